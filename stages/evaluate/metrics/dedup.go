package metrics

import (
	"hash/maphash"
	"math"
)

// SearchSelf is the neighbour search Compute uses: b.Search over the distinct rows of x,
// expanded back to all rows. It exists because BLAS does not give identical vectors
// identical scores (a dot product's rounding depends on where the pair sits in the blocked
// product), so exact duplicates would otherwise be ordered by rounding. Here duplicates
// share one score by construction: a group of equal rows appears in every result list as a
// run in increasing index order, and all its members get the same list. Hence, with the
// drop-first rule, a query with a lower-index duplicate keeps itself as its nearest
// neighbour (a hit), as documented on Backend. Ties between distinct vectors are whatever
// the backend's float arithmetic decides, as in faiss.
//
// Without duplicates this is exactly b.Search(x, k, ip).
func SearchSelf(b Backend, x Matrix, k int, ip bool) ([]int32, error) {
	rep, members := distinctRows(x)
	if len(members) == x.Rows {
		return b.Search(x, k, ip)
	}
	u := Matrix{Data: make([]float32, 0, len(members)*x.Cols), Rows: len(members), Cols: x.Cols}
	for _, m := range members {
		u.Data = append(u.Data, x.Row(m[0])...)
	}
	ku := min(k, u.Rows)
	ures, err := b.Search(u, ku, ip)
	if err != nil {
		return nil, err
	}
	expanded := make([][]int32, u.Rows)
	out := make([]int32, x.Rows*k)
	for i := 0; i < x.Rows; i++ {
		g := rep[i]
		if expanded[g] == nil {
			row := make([]int32, 0, k)
			for _, r := range ures[g*ku : (g+1)*ku] {
				for _, m := range members[r] {
					if len(row) == k {
						break
					}
					row = append(row, int32(m))
				}
			}
			expanded[g] = row
		}
		copy(out[i*k:(i+1)*k], expanded[g])
	}
	return out, nil
}

// distinctRows groups equal rows (compared by value, so -0 equals +0): rep[i] is row i's
// group, members[g] the group's rows in increasing order; groups are numbered by first
// occurrence.
func distinctRows(x Matrix) (rep []int, members [][]int) {
	seed := maphash.MakeSeed()
	buckets := map[uint64][]int{} // hash -> group ids
	rep = make([]int, x.Rows)
	var buf []byte
	for i := 0; i < x.Rows; i++ {
		r := x.Row(i)
		buf = buf[:0]
		for _, v := range r {
			if v == 0 {
				v = 0 // -0 -> +0
			}
			b := math.Float32bits(v)
			buf = append(buf, byte(b), byte(b>>8), byte(b>>16), byte(b>>24))
		}
		h := maphash.Bytes(seed, buf)
		g := -1
		for _, c := range buckets[h] {
			if equalRows(x.Row(members[c][0]), r) {
				g = c
				break
			}
		}
		if g < 0 {
			g = len(members)
			members = append(members, nil)
			buckets[h] = append(buckets[h], g)
		}
		members[g] = append(members[g], i)
		rep[i] = g
	}
	return rep, members
}

func equalRows(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
