package ingest

// rows returns a copy of every row q holds, in order (tests only).
func (q *Quarantine) rows() []BadRow {
	var out []BadRow
	it := q.iter()
	for it.next() {
		b := it.cur
		if b.raw != nil {
			b.raw = append([]byte(nil), b.raw...)
		}
		out = append(out, b)
	}
	if it.err != nil {
		panic(it.err)
	}
	return out
}

// stored is the text a bad row shows in etl2elt.quarantine.raw_record.
func (b BadRow) stored() string {
	if b.byRef {
		return b.preview
	}
	return previewOf(b.raw, false)
}
