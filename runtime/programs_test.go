package runtime

import (
	"errors"
	"sync"
	"testing"
)

func TestProgramCacheCompilesOnceAndShares(t *testing.T) {
	c := NewProgramCache(2)
	const src = `function f() { return 1 }`
	var wg sync.WaitGroup
	progs := make([]*Program, 16)
	for i := range progs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := c.Acquire("a.js", src)
			if err != nil {
				t.Error(err)
			}
			progs[i] = p
		}()
	}
	wg.Wait()
	for _, p := range progs[1:] {
		if p != progs[0] {
			t.Fatal("sessions of the same source got different programs")
		}
	}
	if cached, compiled := c.Stats(); cached != 1 || compiled != 1 {
		t.Errorf("cached %d, compiled %d; want 1 and 1", cached, compiled)
	}
}

func TestProgramCacheEvictsUnusedOldestFirst(t *testing.T) {
	c := NewProgramCache(1)
	a, _ := c.Acquire("a.js", "1")
	b, _ := c.Acquire("b.js", "2")
	held, _ := c.Acquire("c.js", "3")
	c.Release(a)
	c.Release(b) // a is evicted: only one idle program is kept
	if cached, _ := c.Stats(); cached != 2 {
		t.Fatalf("cached = %d, want 2 (b idle, c held)", cached)
	}
	again, _ := c.Acquire("a.js", "1")
	if again == a {
		t.Error("an evicted program came back without recompiling")
	}
	b2, _ := c.Acquire("b.js", "2")
	if b2 != b {
		t.Error("an idle program in the cache was recompiled")
	}
	c.Release(held)
	c.Release(held) // a double release must not underflow
}

func TestProgramCacheKeysByNameAndContent(t *testing.T) {
	c := NewProgramCache(0)
	p1, _ := c.Acquire("a.js", "var x = 1")
	p2, _ := c.Acquire("a.js", "var x = 2")
	p3, _ := c.Acquire("b.js", "var x = 1")
	if p1 == p2 || p1 == p3 {
		t.Error("different sources or names shared a program")
	}
	if p1.Hash == p2.Hash || p1.Hash != p3.Hash {
		t.Error("Hash is not the content's")
	}
}

func TestCompileReportsPosition(t *testing.T) {
	tests := []struct {
		name, src          string
		line, col          int
		message, errString string
	}{
		{"parse error", "var a = 1;\nvar b = (;\n", 2, 10, "Unexpected token ;", "bad.js:2:10: SyntaxError: Unexpected token ;"},
		{"compile error", "'use strict';\nlet a = 1;\nlet a = 2;\n", 3, 5, "Identifier 'a' has already been declared", "bad.js:3:5: SyntaxError: Identifier 'a' has already been declared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile("bad.js", tt.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SyntaxError", err)
			}
			if se.Line != tt.line || se.Column != tt.col || se.Message != tt.message {
				t.Errorf("got %d:%d %q, want %d:%d %q", se.Line, se.Column, se.Message, tt.line, tt.col, tt.message)
			}
			if se.Error() != tt.errString {
				t.Errorf("Error() = %q, want %q", se.Error(), tt.errString)
			}
		})
	}
}
