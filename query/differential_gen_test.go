package query

import "math/rand/v2"

// diffGen generates cases from a seeded source.
type diffGen struct {
	r *rand.Rand
}

func (g *diffGen) pick(n int) int { return g.r.IntN(n) }

func (g *diffGen) chance(p float64) bool { return g.r.Float64() < p }

// scalar returns a scalar of a random type class; numbers collide across
// int and float (1 and 1.0), strings differ in case and length.
func (g *diffGen) scalar() any {
	switch g.pick(6) {
	case 0, 1:
		return int64(g.pick(5) - 1)
	case 2:
		return float64(g.pick(9)-2) / 2
	case 3:
		return []string{"", "a", "ab", "b", "B", "ba"}[g.pick(6)]
	case 4:
		return g.chance(0.5)
	}
	return nil
}

// value returns a scalar, an array or an object (keys x and y, in sorted
// order, so MongoDB's field order and this package's agree).
func (g *diffGen) value(depth int) any {
	switch k := g.pick(10); {
	case depth > 0 && k < 2:
		n := g.pick(4)
		arr := make([]any, n)
		for i := range arr {
			arr[i] = g.value(depth - 1)
		}
		return arr
	case depth > 0 && k < 4:
		m := map[string]any{}
		for _, f := range []string{"x", "y"} {
			if g.chance(0.6) {
				m[f] = g.value(depth - 1)
			}
		}
		return m
	}
	return g.scalar()
}

func (g *diffGen) docs() []map[string]any {
	n := 8 + g.pick(8)
	out := make([]map[string]any, n)
	for i := range out {
		d := map[string]any{"_id": int64(i)}
		for _, f := range []string{"a", "b", "c"} {
			if g.chance(0.75) {
				d[f] = g.value(2)
			}
		}
		out[i] = d
	}
	return out
}

var diffPaths = []string{"a", "a", "b", "b", "c", "a.x", "a.y", "b.x", "a.0", "b.1", "a.x.y", "a.0.x", "a.x.0"}

func (g *diffGen) path() string { return diffPaths[g.pick(len(diffPaths))] }

func (g *diffGen) list(min, max int) []any {
	n := min + g.pick(max-min+1)
	out := make([]any, n)
	for i := range out {
		out[i] = g.value(1)
	}
	return out
}

// opExpr returns an operator expression for one field.
func (g *diffGen) opExpr(depth int) map[string]any {
	m := map[string]any{}
	for range 1 + g.pick(2) {
		switch g.pick(13) {
		case 0:
			m["$eq"] = g.value(1)
		case 1:
			m["$ne"] = g.value(1)
		case 2, 3:
			m[[]string{"$gt", "$gte", "$lt", "$lte"}[g.pick(4)]] = g.value(1)
		case 4:
			if g.chance(0.3) {
				m["$in"] = g.withRegex(g.list(inHashMin, inHashMin+6)) // the hashed path
			} else {
				m["$in"] = g.withRegex(g.list(0, 4))
			}
		case 5:
			m["$nin"] = g.withRegex(g.list(0, inHashMin+4))
		case 6:
			m["$all"] = g.list(1, 3)
		case 7:
			m["$exists"] = g.chance(0.5)
		case 8:
			m["$regex"] = []string{"^a", "b$", "a", "^$", "A", "^b.?"}[g.pick(6)]
			if g.chance(0.3) {
				m["$options"] = "i"
			}
		case 9:
			m["$size"] = int64(g.pick(4))
		case 10:
			if depth > 0 {
				sub := g.opExpr(depth - 1)
				delete(sub, "$not")
				m["$not"] = sub
			}
		case 11, 12:
			if depth > 0 {
				if g.chance(0.5) {
					sub := g.opExpr(0)
					delete(sub, "$exists") // $elemMatch on values takes no $exists in MongoDB
					delete(sub, "$size")
					if len(sub) > 0 {
						m["$elemMatch"] = sub
					}
				} else {
					m["$elemMatch"] = map[string]any{[]string{"x", "y"}[g.pick(2)]: g.cond(0)}
				}
			}
		}
	}
	if len(m) == 0 {
		m["$eq"] = g.value(1)
	}
	return m
}

// withRegex sometimes adds a regular expression member to an $in list.
func (g *diffGen) withRegex(list []any) []any {
	if g.chance(0.25) {
		re := map[string]any{"$regex": []string{"^a", "b$", "A", "^$"}[g.pick(4)]}
		if g.chance(0.3) {
			re["$options"] = "i"
		}
		list = append(list, re)
	}
	return list
}

// cond returns a field condition: a value (implicit equality) or an
// operator expression.
func (g *diffGen) cond(depth int) any {
	if g.chance(0.3) {
		v := g.value(1)
		if _, ok := v.(map[string]any); ok && g.chance(0.5) {
			return g.scalar()
		}
		return v
	}
	return g.opExpr(depth)
}

func (g *diffGen) filter(depth int) map[string]any {
	f := map[string]any{}
	for range 1 + g.pick(2) {
		if depth > 0 && g.chance(0.2) {
			op := []string{"$and", "$or", "$nor"}[g.pick(3)]
			var subs []any
			for range 1 + g.pick(3) {
				subs = append(subs, g.filter(depth-1))
			}
			f[op] = subs
			continue
		}
		f[g.path()] = g.cond(1)
	}
	return f
}

var diffUpdatePaths = []string{"a", "b", "c", "d", "a.x", "b.x", "a.0", "b.1", "e.f"}

func (g *diffGen) update() map[string]any {
	u := map[string]any{}
	var used []string
	free := func(p string) bool {
		for _, q := range used {
			if conflict(p, q) {
				return false
			}
		}
		return true
	}
	for range 1 + g.pick(3) {
		p := diffUpdatePaths[g.pick(len(diffUpdatePaths))]
		if !free(p) {
			continue
		}
		op, arg := g.updateOp()
		if op == "$rename" {
			target := []string{"z", "b", "e.g", "c"}[g.pick(4)]
			if !free(target) || conflict(p, target) {
				continue
			}
			used = append(used, target)
			arg = target
		}
		used = append(used, p)
		fields, _ := u[op].(map[string]any)
		if fields == nil {
			fields = map[string]any{}
			u[op] = fields
		}
		fields[p] = arg
	}
	if len(u) == 0 {
		u["$set"] = map[string]any{"d": g.value(1)}
	}
	return u
}

func (g *diffGen) updateOp() (string, any) {
	switch g.pick(11) {
	case 0:
		return "$set", g.value(2)
	case 1:
		return "$unset", ""
	case 2:
		return "$inc", g.scalarNumber()
	case 3:
		return "$mul", g.scalarNumber()
	case 4:
		return []string{"$min", "$max"}[g.pick(2)], g.value(1)
	case 5:
		return "$rename", ""
	case 6, 7:
		if g.chance(0.5) {
			return "$push", g.value(1)
		}
		m := map[string]any{"$each": g.list(0, 3)}
		if g.chance(0.3) {
			m["$position"] = int64(g.pick(5) - 2)
		}
		if g.chance(0.3) {
			m["$slice"] = int64(g.pick(7) - 3)
		}
		if g.chance(0.3) {
			m["$sort"] = int64([]int{1, -1}[g.pick(2)])
		}
		return "$push", m
	case 8:
		switch g.pick(3) {
		case 0:
			return "$pull", g.value(1)
		case 1:
			return "$pull", map[string]any{[]string{"$gte", "$lt", "$eq", "$ne", "$in"}[g.pick(5)]: g.scalar()}
		}
		return "$pull", map[string]any{[]string{"x", "y"}[g.pick(2)]: g.scalar()}
	}
	if g.chance(0.5) {
		return "$addToSet", g.value(1)
	}
	return "$addToSet", map[string]any{"$each": g.list(0, 4)}
}

func (g *diffGen) scalarNumber() any {
	if g.chance(0.5) {
		return int64(g.pick(7) - 3)
	}
	return float64(g.pick(9)-4) / 2
}

func (g *diffGen) next() diffCase {
	docs := g.docs()
	switch k := g.pick(10); {
	case k < 6:
		return diffCase{kind: "filter", filter: g.filter(2), docs: docs}
	case k < 9:
		d := docs[g.pick(len(docs))]
		if g.chance(0.3) { // arrays with duplicates, as $push leaves them
			d["a"] = []any{int64(1), int64(1), "a", int64(1), nil, nil}
		}
		return diffCase{kind: "update", update: g.update(), docs: []map[string]any{d}}
	}
	var spec []SortKey
	for _, p := range []string{"a", "b", "a.x", "c"} {
		if len(spec) < 2 && g.chance(0.4) {
			spec = append(spec, SortKey{p, []int{1, -1}[g.pick(2)]})
		}
	}
	if len(spec) == 0 {
		spec = []SortKey{{"a", 1}}
	}
	spec = append(spec, SortKey{"_id", 1}) // a total order: no ties to break
	return diffCase{kind: "sort", sort: spec, docs: docs}
}
