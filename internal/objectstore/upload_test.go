package objectstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlanParts(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name           string
		size, partSize int64
		count          int
		last           int64
		err            string
	}{
		{name: "12 MB in 5 MiB parts", size: 12_000_000, partSize: 5 * mib, count: 3, last: 12_000_000 - 10*mib},
		{name: "exact multiple", size: 15 * mib, partSize: 5 * mib, count: 3, last: 5 * mib},
		{name: "one byte over", size: 5*mib + 1, partSize: 5 * mib, count: 2, last: 1},
		{name: "one part", size: 3, partSize: 5 * mib, count: 1, last: 3},
		{name: "default part size", size: 1 << 30, partSize: DefaultPartSize, count: 16, last: DefaultPartSize},
		{name: "the most parts", size: MaxParts * 5 * mib, partSize: 5 * mib, count: MaxParts, last: 5 * mib},
		{name: "too many parts", size: MaxParts*5*mib + 1, partSize: 5 * mib, err: "make 10001 parts: S3 allows 10000"},
		{name: "part too small", size: 12 * mib, partSize: 5*mib - 1, err: "S3's minimum is 5242880 (5 MiB)"},
		{name: "part too large", size: 12 * mib, partSize: MaxPartSize + 1, err: "S3's maximum is 5368709120 (5 GiB)"},
		{name: "empty", size: 0, partSize: 5 * mib, err: "nothing to upload in parts"},
		{name: "larger than an object", size: MaxObjectSize + 1, partSize: MaxPartSize, err: "larger than S3's largest object (5 TiB)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := PlanParts(tc.size, tc.partSize)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, parts, tc.count)
			var next int64
			for i, p := range parts {
				require.EqualValues(t, i+1, p.Number, "parts are numbered from 1")
				require.Equal(t, next, p.Offset, "parts are contiguous")
				if i < len(parts)-1 {
					require.Equal(t, tc.partSize, p.Size)
				}
				next += p.Size
			}
			require.Equal(t, tc.size, next, "the parts cover the file")
			require.Equal(t, tc.last, parts[len(parts)-1].Size)
		})
	}
}

func TestPartSizeForRaisesToFitMaxParts(t *testing.T) {
	const mib = 1 << 20
	require.EqualValues(t, DefaultPartSize, partSizeFor(100*mib, DefaultPartSize))
	require.EqualValues(t, DefaultPartSize, partSizeFor(MaxParts*DefaultPartSize, DefaultPartSize), "exactly the most parts")
	raised := partSizeFor(MaxParts*DefaultPartSize+1, DefaultPartSize)
	require.EqualValues(t, DefaultPartSize+mib, raised, "raised to whole MiB")
	parts, err := PlanParts(MaxParts*DefaultPartSize+1, raised)
	require.NoError(t, err)
	require.LessOrEqual(t, len(parts), MaxParts)
	parts, err = PlanParts(MaxObjectSize, partSizeFor(MaxObjectSize, DefaultPartSize))
	require.NoError(t, err, "the largest object fits")
	require.LessOrEqual(t, len(parts), MaxParts)
}
