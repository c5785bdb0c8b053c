package runtime

import "fmt"

// MaxNesting bounds how deeply brackets may nest in a scenario file. goja's
// parser and compiler recurse once per level on the Go stack, and a file of half a
// million nested brackets overflows it, which no recover can catch: one push
// would take the whole server down. Real scenarios nest a few dozen levels.
const MaxNesting = 10000

// checkNesting refuses a source whose brackets nest deeper than MaxNesting. It
// skips strings, template text, comments and regular expression literals well
// enough to count only code, and errs on the side of counting: a file it
// misjudges would still have to nest thousands of levels to be refused.
func checkNesting(name, src string) error {
	depth, line, col := 0, 1, 0
	// prev is the last significant character, to tell a regexp literal from a
	// division: a slash after an operand divides.
	prev := byte('(')
	// templates counts the open ${ of template literals, so a } can end one.
	var templates []int
	for i := 0; i < len(src); i++ {
		c := src[i]
		col++
		switch c {
		case '\n':
			line, col = line+1, 0
			continue
		case ' ', '\t', '\r':
			continue
		case '"', '\'':
			i = skipString(src, i, c, &line, &col)
		case '`':
			i = skipTemplate(src, i, &line, &col, &templates, depth)
			if len(templates) > 0 && templates[len(templates)-1] == depth {
				depth++
			}
		case '/':
			switch {
			case i+1 < len(src) && src[i+1] == '/':
				for i < len(src) && src[i] != '\n' {
					i++
				}
				i--
				continue
			case i+1 < len(src) && src[i+1] == '*':
				i += 2
				for i+1 < len(src) && !(src[i] == '*' && src[i+1] == '/') {
					if src[i] == '\n' {
						line, col = line+1, 0
					}
					i++
				}
				i++
				continue
			case !isOperand(prev):
				i = skipRegexp(src, i)
			}
		case '(', '[', '{':
			depth++
			if depth > MaxNesting {
				return &SyntaxError{File: name, Line: line, Column: col, Message: fmt.Sprintf("brackets nest more than %d levels deep", MaxNesting)}
			}
		case ')', ']', '}':
			if c == '}' && len(templates) > 0 && templates[len(templates)-1] == depth-1 {
				// The } closes a ${ of a template literal: the template goes on.
				templates = templates[:len(templates)-1]
				depth--
				i = skipTemplate(src, i, &line, &col, &templates, depth)
				if len(templates) > 0 && templates[len(templates)-1] == depth {
					depth++
				}
				prev = '`'
				continue
			}
			if depth > 0 {
				depth--
			}
		}
		prev = c
	}
	return nil
}

func isOperand(c byte) bool {
	return c == ')' || c == ']' || c == '}' || c == '"' || c == '\'' || c == '`' ||
		c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// skipString returns the index of the quote that ends the string opened at i.
func skipString(src string, i int, quote byte, line, col *int) int {
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '\n':
			*line, *col = *line+1, 0
			return i
		case quote:
			return i
		}
	}
	return i
}

// skipTemplate skips template text from the backquote or } at i to the end of the
// template (returning the closing backquote) or to a ${, which it records in
// templates at the current depth so that the matching } resumes the text.
func skipTemplate(src string, i int, line, col *int, templates *[]int, depth int) int {
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '\n':
			*line, *col = *line+1, 0
		case '`':
			return i
		case '$':
			if i+1 < len(src) && src[i+1] == '{' {
				*templates = append(*templates, depth)
				return i + 1
			}
		}
	}
	return i
}

// skipRegexp returns the index of the slash that ends the regexp literal at i.
func skipRegexp(src string, i int) int {
	inClass := false
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '\n':
			return i
		case '/':
			if !inClass {
				return i
			}
		}
	}
	return i
}
