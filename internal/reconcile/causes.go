package reconcile

// Causes of a difference between legacy and ELT, for reports: what a reader needs
// to know first about a breach is why the two sides differ.
const (
	// CauseKeyMissingInELT and CauseKeyMissingInLegacy: a key (row) on one side only
	// (row diff).
	CauseKeyMissingInELT    = "key_missing_in_elt"
	CauseKeyMissingInLegacy = "key_missing_in_legacy"
	// CauseSegmentMissingInELT and CauseSegmentMissingInLegacy: a segment on one side
	// only (segment checks).
	CauseSegmentMissingInELT    = "segment_missing_in_elt"
	CauseSegmentMissingInLegacy = "segment_missing_in_legacy"
	// CauseOutsideTolerance: a value (an aggregate, or a row's column) that differs
	// beyond its tolerance.
	CauseOutsideTolerance = "outside_tolerance"
	// CauseWithinTolerance: a value that differs within its tolerance (not a breach).
	CauseWithinTolerance = "within_tolerance"
	// CauseNormalisationOnly: a difference that disappears under the plan's
	// normalisation ('' vs NULL with null_equals_empty, spaces with trim, case with
	// case_insensitive): accepted, not a breach.
	CauseNormalisationOnly = "normalisation_only"
)

// Causes lists every cause in the order reports show them.
var Causes = []string{
	CauseKeyMissingInELT, CauseKeyMissingInLegacy, CauseSegmentMissingInELT, CauseSegmentMissingInLegacy,
	CauseOutsideTolerance, CauseWithinTolerance, CauseNormalisationOnly,
}

// CauseOfKind is the cause of a row diff's KeyDiff kind.
func CauseOfKind(kind string) string {
	switch kind {
	case KindMissingInELT:
		return CauseKeyMissingInELT
	case KindMissingInLegacy:
		return CauseKeyMissingInLegacy
	case KindMismatched:
		return CauseOutsideTolerance
	case KindWithinTolerance:
		return CauseWithinTolerance
	case KindNormalisationOnly:
		return CauseNormalisationOnly
	}
	return ""
}

// CheckCause classifies an aggregate check ("" when both sides agree exactly).
// onlyInLegacy / onlyInELT say that its segment is on that side only: every check of
// such a segment has the segment's cause.
func CheckCause(c Check, onlyInLegacy, onlyInELT bool) string {
	switch {
	case onlyInLegacy:
		return CauseSegmentMissingInELT
	case onlyInELT:
		return CauseSegmentMissingInLegacy
	case c.Metric == MetricNullCountUnnormalised:
		return CauseNormalisationOnly
	case c.Status != Pass:
		return CauseOutsideTolerance
	case c.Difference == "0" || (c.Difference == "" && c.Legacy == c.ELT):
		return ""
	}
	return CauseWithinTolerance
}

// CountCauses counts a pair's aggregate checks by cause (CheckCause); a segment one
// side lacks counts once, not once per check.
func CountCauses(checks []Check, onlyInLegacy, onlyInELT []string) map[string]int {
	oneSided := map[string]string{}
	for _, s := range onlyInLegacy {
		oneSided[s] = CauseSegmentMissingInELT
	}
	for _, s := range onlyInELT {
		oneSided[s] = CauseSegmentMissingInLegacy
	}
	out := map[string]int{}
	for _, cause := range oneSided {
		out[cause]++
	}
	for _, c := range checks {
		if _, ok := oneSided[c.Segment]; ok && c.Segment != "" {
			continue
		}
		if cause := CheckCause(c, false, false); cause != "" {
			out[cause]++
		}
	}
	return out
}
