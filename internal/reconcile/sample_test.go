package reconcile

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// kd is a KeyDiff of kind and segment, keyed by id.
func kd(kind, segment string, id int) KeyDiff {
	return KeyDiff{Kind: kind, Segment: segment, Key: map[string]string{"id": fmt.Sprint(id)}}
}

// picked lists the sample as kind/segment/id.
func picked(s []KeyDiff) []string {
	out := make([]string, len(s))
	for i, d := range s {
		out[i] = d.Kind + "/" + d.Segment + "/" + d.Key["id"]
	}
	return out
}

// referenceSample is the stratified sample computed without any bound on memory.
func referenceSample(size int, diffs []KeyDiff) []KeyDiff {
	s := &sampler{size: size, pools: map[string]*causePool{}}
	for _, d := range diffs {
		p := s.pools[d.Kind]
		if p == nil {
			p = &causePool{segs: map[string][]KeyDiff{}, hash: map[string]uint64{}}
			s.pools[d.Kind] = p
		}
		if _, ok := p.segs[d.Segment]; !ok {
			probe := newSampler(1)
			probe.add(d)
			p.hash[d.Segment] = probe.pools[d.Kind].hash[d.Segment]
		}
		p.segs[d.Segment] = append(p.segs[d.Segment], d)
		p.total++
	}
	return s.sample()
}

func TestSamplerStratifies(t *testing.T) {
	many := func(kind, segment string, from, n int) []KeyDiff {
		var out []KeyDiff
		for i := range n {
			out = append(out, kd(kind, segment, from+i))
		}
		return out
	}
	cat := func(lists ...[]KeyDiff) []KeyDiff {
		var out []KeyDiff
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	tests := []struct {
		name  string
		size  int
		diffs []KeyDiff
		want  []string // exact sample, in order
		check func(t *testing.T, got []KeyDiff)
	}{
		{
			name: "every cause present, however rare, before a second key of any cause",
			size: 5,
			diffs: cat(many(KindMismatched, "", 1, 500), many(KindNormalisationOnly, "", 600, 1), many(KindWithinTolerance, "", 700, 3),
				many(KindMissingInLegacy, "", 800, 2), many(KindMissingInELT, "", 900, 1)),
			want: []string{"missing_in_elt//900", "missing_in_legacy//800", "mismatched//1", "within_tolerance//700", "normalisation_only//600"},
		},
		{
			name:  "causes take turns; a cause that runs dry leaves room to the others",
			size:  6,
			diffs: cat(many(KindMismatched, "", 1, 10), many(KindMissingInELT, "", 100, 1)),
			want:  []string{"missing_in_elt//100", "mismatched//1", "mismatched//2", "mismatched//3", "mismatched//4", "mismatched//5"},
		},
		{
			name:  "within a cause, segments take turns (not the first keys of the largest segment)",
			size:  3,
			diffs: cat(many(KindMismatched, "region=amer", 1, 100), many(KindMismatched, "region=emea", 200, 1), many(KindMismatched, "region=apac", 300, 1)),
			check: func(t *testing.T, got []KeyDiff) {
				segs := map[string]bool{}
				for _, d := range got {
					segs[d.Segment] = true
				}
				require.Len(t, segs, 3, "one key of each segment: %v", picked(got))
			},
		},
		{
			name:  "within a segment, keys in the order the diff found them",
			size:  3,
			diffs: many(KindMissingInLegacy, "region=emea", 40, 10),
			want:  []string{"missing_in_legacy/region=emea/40", "missing_in_legacy/region=emea/41", "missing_in_legacy/region=emea/42"},
		},
		{
			name:  "more segments than keys: one key each of as many segments",
			size:  4,
			diffs: cat(many(KindMismatched, "day=1", 1, 3), many(KindMismatched, "day=2", 10, 3), many(KindMismatched, "day=3", 20, 3), many(KindMismatched, "day=4", 30, 3), many(KindMismatched, "day=5", 40, 3)),
			check: func(t *testing.T, got []KeyDiff) {
				segs := map[string]bool{}
				for _, d := range got {
					segs[d.Segment] = true
				}
				require.Len(t, segs, 4)
			},
		},
		{name: "no sample asked", size: -1, diffs: many(KindMismatched, "", 1, 3)},
		{name: "nothing differs", size: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSampler(tt.size)
			for _, d := range tt.diffs {
				s.add(d)
			}
			got := s.sample()
			if tt.want != nil {
				require.Equal(t, tt.want, picked(got))
			}
			if tt.size <= 0 || len(tt.diffs) == 0 {
				require.Empty(t, got)
			}
			require.LessOrEqual(t, len(got), max(tt.size, 0))
			require.Equal(t, picked(referenceSample(tt.size, tt.diffs)), picked(got), "the same as without a memory bound")
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

// The pools' bound never changes the sample: random differences over causes and
// segments, in random order, against the unbounded computation.
func TestSamplerBoundKeepsTheSample(t *testing.T) {
	kinds := sampleKinds
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		size := 1 + rng.IntN(12)
		segments := 1 + rng.IntN(30)
		var diffs []KeyDiff
		for i := range rng.IntN(400) {
			diffs = append(diffs, kd(kinds[rng.IntN(len(kinds))], fmt.Sprintf("seg=%d", rng.IntN(segments)), i))
		}
		s := newSampler(size)
		for _, d := range diffs {
			s.add(d)
			for _, p := range s.pools {
				require.LessOrEqual(t, p.total, 2*size, "memory bound")
			}
		}
		require.Equal(t, picked(referenceSample(size, diffs)), picked(s.sample()), "seed %d, size %d, %d segments", seed, size, segments)
	}
}
