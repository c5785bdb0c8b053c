package runtime

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"

	"vox/jsapi"
)

// Program is a compiled scenario file. A Program is immutable and shared by every
// session that runs it; goja programs are safe to share between runtimes.
type Program struct {
	Name string // file name used in errors and stacks
	Hash string // hex SHA-256 of the source
	prog *goja.Program
	// asyncOrGenerators is whether the program defines an async or a generator
	// function; a session whose programs define none needs no guard on their
	// constructors (jsapi.Options.NoAsyncOrGenerators).
	asyncOrGenerators bool
}

// SyntaxError is a scenario that does not compile, positioned at file:line:column.
type SyntaxError struct {
	File    string
	Line    int
	Column  int
	Message string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: SyntaxError: %s", e.File, e.Line, e.Column, e.Message)
}

// Compile compiles one scenario file without caching it.
func Compile(name, src string) (*Program, error) {
	if err := checkNesting(name, src); err != nil {
		return nil, err
	}
	// Parsing separately keeps the parser's positions, which goja.Compile drops.
	ast, err := parser.ParseFile(nil, name, src, 0)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			// Later errors mostly follow from the first one; it is the one to fix.
			first := list[0]
			return nil, &SyntaxError{File: name, Line: first.Position.Line, Column: first.Position.Column, Message: first.Message}
		}
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	prog, err := goja.CompileAST(ast, false)
	if err != nil {
		return nil, compileError(name, err)
	}
	sum := sha256.Sum256([]byte(src))
	return &Program{Name: name, Hash: hex.EncodeToString(sum[:]), prog: prog, asyncOrGenerators: jsapi.HasAsyncOrGenerator(ast)}, nil
}

func compileError(name string, err error) error {
	var ce *goja.CompilerSyntaxError
	if errors.As(err, &ce) {
		return positioned(name, ce.File, ce.Offset, ce.Message)
	}
	var re *goja.CompilerReferenceError
	if errors.As(err, &re) {
		return positioned(name, re.File, re.Offset, re.Message)
	}
	return fmt.Errorf("compile %s: %w", name, err)
}

func positioned(name string, f *file.File, offset int, msg string) *SyntaxError {
	se := &SyntaxError{File: name, Message: msg}
	if f != nil {
		p := f.Position(offset)
		se.Line, se.Column = p.Line, p.Column
	}
	return se
}

// ProgramCache compiles each distinct scenario file once and shares the result.
// Entries are keyed by file name and content hash; entries no session holds are
// kept on a bounded idle list and evicted oldest first.
type ProgramCache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	idle    *list.List // of *cacheEntry with refs == 0, oldest first
	maxIdle int
	compile int // compilations done, for tests and metrics
}

type cacheKey struct{ name, hash string }

type cacheEntry struct {
	key   cacheKey
	prog  *Program
	err   error
	ready chan struct{} // closed once prog or err is set
	refs  int
	elem  *list.Element
}

// DefaultMaxIdlePrograms bounds how many unused compiled programs a cache keeps.
const DefaultMaxIdlePrograms = 256

// NewProgramCache returns a cache that keeps at most maxIdle unused programs
// (DefaultMaxIdlePrograms when maxIdle <= 0).
func NewProgramCache(maxIdle int) *ProgramCache {
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdlePrograms
	}
	return &ProgramCache{entries: map[cacheKey]*cacheEntry{}, idle: list.New(), maxIdle: maxIdle}
}

// Acquire returns the compiled program for name and src, compiling it on first use,
// and holds it until Release. A syntax error is returned as *SyntaxError.
func (c *ProgramCache) Acquire(name, src string) (*Program, error) {
	sum := sha256.Sum256([]byte(src))
	return c.AcquireHashed(name, hex.EncodeToString(sum[:]), src)
}

// AcquireHashed is Acquire for a source whose hex SHA-256 the caller already
// knows, as a stored release does: hashing a 3000-line scenario on every call
// would cost more than the rest of starting it.
func (c *ProgramCache) AcquireHashed(name, hash, src string) (*Program, error) {
	key := cacheKey{name, hash}
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		// The first caller compiles, outside the lock so that sessions of other
		// programs do not wait; callers arriving meanwhile wait for its result
		// instead of compiling the same source again (a burst of calls right
		// after a push).
		e = &cacheEntry{key: key, ready: make(chan struct{})}
		c.entries[key] = e
		c.mu.Unlock()
		prog, err := Compile(name, src)
		c.mu.Lock()
		if err != nil {
			delete(c.entries, key)
			e.err = err
		} else {
			prog.Hash = hash
			e.prog = prog
			c.compile++
		}
		close(e.ready)
	}
	if e.prog == nil && e.err == nil {
		c.mu.Unlock()
		<-e.ready
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	if c.entries[key] != e {
		// Evicted between compiling and now: put it back.
		c.entries[key] = e
	}
	c.hold(e)
	return e.prog, nil
}

func (c *ProgramCache) hold(e *cacheEntry) {
	if e.refs == 0 && e.elem != nil {
		c.idle.Remove(e.elem)
		e.elem = nil
	}
	e.refs++
}

// Release gives back a program taken with Acquire.
func (c *ProgramCache) Release(p *Program) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey{p.Name, p.Hash}]
	if !ok || e.refs == 0 {
		return
	}
	e.refs--
	if e.refs > 0 {
		return
	}
	e.elem = c.idle.PushBack(e)
	for c.idle.Len() > c.maxIdle {
		oldest := c.idle.Remove(c.idle.Front()).(*cacheEntry)
		delete(c.entries, oldest.key)
	}
}

// Stats reports how many programs are cached and how many compilations were done.
func (c *ProgramCache) Stats() (cached, compiled int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.compile
}

// Position is where the error is, for tools that show the offending line.
func (e *SyntaxError) Position() (line, column int) { return e.Line, e.Column }
