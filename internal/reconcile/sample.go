package reconcile

import (
	"hash/fnv"
	"sort"
)

// The row diff's sample is stratified across causes and segments, so that a
// 20-key sample shows every kind of difference present and not the first keys of
// the most frequent one (four of eight kinds of planted difference were once
// invisible without a 600-key sample).
//
// Differences are kept in buckets by cause (the KeyDiff's kind) and segment. The
// sample takes, round after round, one difference of each cause in turn (the order of
// sampleKinds); within a cause, the next segment in turn (segments in the order of
// an FNV-1a hash of their key, so that with more segments than keys the sample
// spreads over them rather than taking the alphabetically first), and within a
// segment the next difference in the order the diff found them (key-hash order).
// The result is deterministic: it depends on the differences, not on timing.
//
// Memory is bounded: a cause's pool keeps at most 2 × size differences. Only a
// cause's first size picks can ever be taken, and they never need a difference the
// pool dropped: with more segments than size, the first size segments' first
// differences; otherwise the last difference of the largest segment, which the
// round-robin reaches only after size picks.

// sampleKinds is the order of causes in each round.
var sampleKinds = []string{KindMissingInELT, KindMissingInLegacy, KindMismatched, KindWithinTolerance, KindNormalisationOnly}

// sampler collects a row diff's differences and picks its stratified sample.
type sampler struct {
	size  int
	pools map[string]*causePool
}

// causePool holds one cause's differences by segment.
type causePool struct {
	segs  map[string][]KeyDiff
	hash  map[string]uint64 // FNV-1a of each segment key
	total int
}

func newSampler(size int) *sampler {
	return &sampler{size: size, pools: map[string]*causePool{}}
}

// add offers a difference to the sample (d.Kind is its cause).
func (s *sampler) add(d KeyDiff) {
	if s.size <= 0 {
		return
	}
	p := s.pools[d.Kind]
	if p == nil {
		p = &causePool{segs: map[string][]KeyDiff{}, hash: map[string]uint64{}}
		s.pools[d.Kind] = p
	}
	if _, ok := p.segs[d.Segment]; !ok {
		f := fnv.New64a()
		f.Write([]byte(d.Segment)) //nolint:errcheck // never fails
		p.hash[d.Segment] = f.Sum64()
	}
	p.segs[d.Segment] = append(p.segs[d.Segment], d)
	p.total++
	if p.total <= 2*s.size {
		return
	}
	if len(p.segs) > s.size {
		// Only the first size segments' first differences can be picked.
		order := p.order()
		for _, seg := range order[s.size:] {
			p.total -= len(p.segs[seg])
			delete(p.segs, seg)
			delete(p.hash, seg)
		}
		for _, seg := range order[:s.size] {
			p.total -= len(p.segs[seg]) - 1
			p.segs[seg] = p.segs[seg][:1]
		}
		return
	}
	// The last difference of the largest segment (of equals, the last in order).
	largest, found := "", false
	for seg, ds := range p.segs {
		if n, m := len(ds), len(p.segs[largest]); !found || n > m || n == m && p.less(largest, seg) {
			largest, found = seg, true
		}
	}
	p.segs[largest] = p.segs[largest][:len(p.segs[largest])-1]
	p.total--
}

// less orders segments for sampling: by the hash of their key, then by key.
func (p *causePool) less(a, b string) bool {
	if p.hash[a] != p.hash[b] {
		return p.hash[a] < p.hash[b]
	}
	return a < b
}

// order is the pool's segments in sampling order.
func (p *causePool) order() []string {
	out := make([]string, 0, len(p.segs))
	for seg := range p.segs {
		out = append(out, seg)
	}
	sort.Slice(out, func(i, j int) bool { return p.less(out[i], out[j]) })
	return out
}

// sequence is the cause's differences in sampling order: round-robin over its
// segments, at most n.
func (p *causePool) sequence(n int) []KeyDiff {
	order := p.order()
	var out []KeyDiff
	for round := 0; len(out) < n; round++ {
		took := false
		for _, seg := range order {
			if d := p.segs[seg]; round < len(d) {
				out = append(out, d[round])
				took = true
				if len(out) == n {
					break
				}
			}
		}
		if !took {
			break
		}
	}
	return out
}

// sample picks at most size differences, one cause after the other in each round.
func (s *sampler) sample() []KeyDiff {
	if s.size <= 0 {
		return nil
	}
	var seqs [][]KeyDiff
	for _, kind := range sampleKinds {
		if p := s.pools[kind]; p != nil {
			seqs = append(seqs, p.sequence(s.size))
		}
	}
	var out []KeyDiff
	for round := 0; len(out) < s.size; round++ {
		took := false
		for _, seq := range seqs {
			if round < len(seq) {
				out = append(out, seq[round])
				took = true
				if len(out) == s.size {
					break
				}
			}
		}
		if !took {
			break
		}
	}
	return out
}
