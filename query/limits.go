package query

import (
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"sync/atomic"
	"unicode/utf8"
)

// Bounds on what one filter or update may ask for. Each exists so that one
// request cannot hold a database's write path, or a core, for long, or
// take memory out of proportion to its size; an input past a bound is
// refused whole with an error wrapping ErrLimit that names the bound and
// the value.
const (
	// MaxUpdateOps bounds the operations of one update, over all its
	// operators ($set of 1,000 fields is 1,000 operations). Each becomes at
	// least one key of the write.
	MaxUpdateOps = 1000

	// MaxEachItems bounds the elements of one $push or $addToSet $each:
	// $addToSet writes one key per element.
	MaxEachItems = 1000

	// MaxRegexLength bounds the bytes of a $regex pattern.
	MaxRegexLength = 2048

	// MaxRegexProgram bounds the instructions of a $regex pattern's
	// compiled program (regexp/syntax): counted repetitions make a short
	// pattern large ("(a{1,100}){1,100}"), and the program's size
	// multiplies the cost of every byte matched.
	MaxRegexProgram = 4096

	// DefaultRegexWork is the regex work a Filter or Update may do when
	// not told otherwise (see RegexWork), in bytes matched times program
	// instructions: measured on a 2-core machine, 2 to 15 ns a unit for
	// typical patterns (a quarter of a second to two seconds), up to 90 ns
	// for the costliest programs (about ten seconds).
	DefaultRegexWork = 1 << 27
)

// regexCheapWork is the bound (bytes times instructions) under which a
// match runs directly, unmetered; it takes at most a few milliseconds.
// Larger matches read their subject through a meter that counts the work
// and polls the filter's interrupt every regexPollWork units.
const (
	regexCheapWork = 1 << 16
	regexPollWork  = 1 << 20
)

// FilterOption configures how a Filter or Update bounds its work.
type FilterOption func(*meter)

// RegexWork sets the budget of regex work (bytes of subject times
// instructions of the program, counted as matches run) of a Filter or
// Update, over all its matches; past it, the matches stop and Err reports
// ErrLimit. Zero or less means no budget (an Interrupt should then bound
// the work). Matches whose bound is under a small constant are not
// counted: each is over in microseconds.
func RegexWork(units int64) FilterOption {
	return func(m *meter) { m.limit = units }
}

// Interrupt sets a function that a long regex match polls (about every
// million units of work, a few milliseconds to a tenth of a second): when
// it returns an error, the match stops, the filter no longer matches, and
// Err wraps that error. A caller passes a context's Err so that a match in
// a very large document stops soon after its deadline.
func Interrupt(f func() error) FilterOption {
	return func(m *meter) { m.interrupt = f }
}

// meter counts the regex work of one Filter or Update. Matches on several
// goroutines may share it.
type meter struct {
	limit     int64
	interrupt func() error
	spent     atomic.Int64
	sincePoll atomic.Int64          // bound of the small matches since the last poll
	err       atomic.Pointer[error] // the first reason matching stopped
}

func newMeter(opts []FilterOption) *meter {
	m := &meter{limit: DefaultRegexWork}
	for _, o := range opts {
		o(m)
	}
	return m
}

// stopped reports why matching stopped, or nil.
func (m *meter) stopped() error {
	if m == nil {
		return nil
	}
	if p := m.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (m *meter) stop(err error) {
	m.err.CompareAndSwap(nil, &err)
}

// charge counts n units and reports whether matching may go on.
func (m *meter) charge(n int64) bool {
	if m.stopped() != nil {
		return false
	}
	spent := m.spent.Add(n)
	if m.limit > 0 && spent > m.limit {
		m.stop(fmt.Errorf("%w: $regex work over %d units (bytes matched times program instructions; RegexWork)", ErrLimit, m.limit))
		return false
	}
	if m.interrupt != nil {
		if err := m.interrupt(); err != nil {
			m.stop(err)
			return false
		}
	}
	return true
}

// tick counts a small match's bound, which is not charged to the budget
// (a scan of many small strings must not run out of it), and polls the
// interrupt every regexPollWork units of such work, so many small
// matches stop at a deadline as one large one does.
func (m *meter) tick(n int64) bool {
	if m.stopped() != nil {
		return false
	}
	if m.interrupt == nil || m.sincePoll.Add(n) < regexPollWork {
		return true
	}
	m.sincePoll.Store(0)
	if err := m.interrupt(); err != nil {
		m.stop(err)
		return false
	}
	return true
}

// regex is a compiled $regex with its cost per byte and the meter of the
// filter or update it belongs to.
type regex struct {
	re    *regexp.Regexp
	insts int64
	m     *meter
}

// MatchString reports whether s matches. A match whose bound (len(s)+1
// times the program size) is small runs directly; a larger one reads s
// through a metered reader that stops it when the meter says so, and then
// reports false (the meter holds the reason, and the caller fails the
// query).
func (r *regex) MatchString(s string) bool {
	if bound := (int64(len(s)) + 1) * r.insts; bound <= regexCheapWork {
		return r.m.tick(bound) && r.re.MatchString(s)
	}
	if r.m.stopped() != nil {
		return false
	}
	mr := &meteredReader{s: s, r: r}
	ok := r.re.MatchReader(mr)
	r.m.spent.Add(mr.pending)
	return ok && !mr.stopped
}

// meteredReader hands a string to regexp rune by rune, charging the meter
// every regexPollWork units of work.
type meteredReader struct {
	s       string
	pos     int
	pending int64 // runes read since the last charge, times instructions
	stopped bool
	r       *regex
}

func (mr *meteredReader) ReadRune() (rune, int, error) {
	if mr.stopped || mr.pos >= len(mr.s) {
		return 0, 0, io.EOF
	}
	mr.pending += mr.r.insts
	if mr.pending >= regexPollWork {
		n := mr.pending
		mr.pending = 0
		if !mr.r.m.charge(n) {
			mr.stopped = true
			return 0, 0, io.EOF
		}
	}
	c, size := utf8.DecodeRuneInString(mr.s[mr.pos:])
	mr.pos += size
	return c, size, nil
}

// compilePattern compiles a $regex pattern (flags already applied) within
// MaxRegexLength and MaxRegexProgram. raw is the pattern as given, for
// messages.
func compilePattern(pat, raw, path string, m *meter) (*regex, error) {
	if len(raw) > MaxRegexLength {
		return nil, fmt.Errorf("%w: $regex pattern at %q is %d bytes, the limit is %d (MaxRegexLength)", ErrLimit, path, len(raw), MaxRegexLength)
	}
	sx, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("%w: $regex: invalid pattern %q at %q: %v", ErrBadOperand, raw, path, err)
	}
	prog, err := syntax.Compile(sx.Simplify())
	if err != nil {
		return nil, fmt.Errorf("%w: $regex: invalid pattern %q at %q: %v", ErrBadOperand, raw, path, err)
	}
	if len(prog.Inst) > MaxRegexProgram {
		return nil, fmt.Errorf("%w: $regex pattern at %q compiles to %d instructions, the limit is %d (MaxRegexProgram)", ErrLimit, path, len(prog.Inst), MaxRegexProgram)
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("%w: $regex: invalid pattern %q at %q: %v", ErrBadOperand, raw, path, err)
	}
	return &regex{re: re, insts: int64(len(prog.Inst)), m: m}, nil
}
