package runtime

import (
	"context"
	"errors"
	"strconv"

	"github.com/dop251/goja"
)

// A request on the session's access URL (S20) reaches the scenario as
// Application.HttpRequest with a requestId. As in Voximplant, what the
// scenario's HttpRequest listener returns is the HTTP response: a string or a
// number as it is, anything else as JSON; a promise answers when it settles.
// The VoxEngine layer sends the answer with the HttpResponse command, which a
// scenario speaking the engine protocol may also send itself; one whose
// onPhoneEvent returns a value answers with that value. A request that no
// listener took is answered at once, empty.

// HTTPAnswer is the scenario's answer to a request on its access URL.
type HTTPAnswer struct {
	Status      int // 200 unless the scenario's promise was rejected (500)
	ContentType string
	Body        string
}

// ErrSessionEnded is what Request returns when the session ended before the
// scenario answered.
var ErrSessionEnded = errors.New("the session has ended")

// Request delivers a request on the access URL and waits for the scenario's
// answer, the session's end, or ctx.
func (s *Session) Request(ctx context.Context, method, path, content string) (HTTPAnswer, error) {
	reply := make(chan HTTPAnswer, 1)
	s.post(func() {
		if s.terminated || s.err != nil {
			return // ending: the caller hears ErrSessionEnded
		}
		s.nextRequest++
		id := strconv.FormatInt(s.nextRequest, 10)
		if s.answers == nil {
			s.answers = map[string]chan<- HTTPAnswer{}
		}
		s.answers[id] = reply
		layer, own := s.deliver(map[string]any{
			"name": EventHTTPRequest, "method": method, "path": path, "content": content, "requestId": id,
		})
		if _, open := s.answers[id]; !open || s.err != nil {
			return // answered, or the scenario failed and the session ends
		}
		switch {
		case s.vm != nil && thenable(own):
			s.answerWhenSettled(id, own.(*goja.Object))
		case own != nil && !goja.IsUndefined(own) && !goja.IsNull(own):
			s.answer(id, answerOf(s.vm, own))
		case layer == nil || !layer.ToBoolean():
			// Nobody took the request: it was heard, there is nothing to say.
			s.answer(id, HTTPAnswer{Status: 200})
		}
	})
	select {
	case a := <-reply:
		return a, nil
	case <-ctx.Done():
		return HTTPAnswer{}, ctx.Err()
	case <-s.done:
		select {
		case a := <-reply:
			return a, nil
		default:
			return HTTPAnswer{}, ErrSessionEnded
		}
	}
}

// thenable tells a promise (or anything with a then method) from a value.
func thenable(v goja.Value) bool {
	obj, ok := v.(*goja.Object)
	if !ok {
		return false
	}
	_, ok = goja.AssertFunction(obj.Get("then"))
	return ok
}

// answerWhenSettled answers request id with what the promise p settles to.
func (s *Session) answerWhenSettled(id string, p *goja.Object) {
	then, _ := goja.AssertFunction(p.Get("then"))
	resolved := func(c goja.FunctionCall) goja.Value {
		s.answer(id, answerOf(s.vm, c.Argument(0)))
		return goja.Undefined()
	}
	rejected := func(c goja.FunctionCall) goja.Value {
		s.logf(KindWarning, "the answer to HTTP request %s failed: %s", id, c.Argument(0))
		s.answer(id, failedAnswer)
		return goja.Undefined()
	}
	if _, err := then(p, s.vm.ToValue(resolved), s.vm.ToValue(rejected)); err != nil {
		s.answer(id, failedAnswer)
	}
}

// failedAnswer is the answer to a request the scenario failed to answer: the
// same the VoxEngine layer sends for a rejected promise.
var failedAnswer = HTTPAnswer{Status: 500, ContentType: "application/json",
	Body: `{"error":{"code":"scenario_failed","message":"the scenario could not answer"}}`}

// answer sends the answer to request id, once.
func (s *Session) answer(id string, a HTTPAnswer) bool {
	reply, ok := s.answers[id]
	if !ok {
		return false
	}
	delete(s.answers, id)
	if a.Status == 0 {
		a.Status = 200
	}
	reply <- a
	return true
}

// answerOf turns what onPhoneEvent returned into an answer as the VoxEngine
// layer does for a listener's value.
func answerOf(vm *goja.Runtime, v goja.Value) HTTPAnswer {
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return HTTPAnswer{}
	}
	switch v.Export().(type) {
	case string, int64, float64, bool:
		return HTTPAnswer{ContentType: "text/plain; charset=utf-8", Body: v.String()}
	}
	b, err := v.ToObject(vm).MarshalJSON()
	if err != nil {
		return failedAnswer
	}
	return HTTPAnswer{ContentType: "application/json", Body: string(b)}
}

// httpResponseCommand is the HttpResponse command: {requestId, content,
// contentType, status}.
func httpResponseCommand(s *Session, p []any) error {
	m := firstParams(p)
	id := str(m, "requestId")
	if id == "" {
		return errors.New("requestId is required")
	}
	a := HTTPAnswer{Status: int(num(m, "status")), ContentType: str(m, "contentType"), Body: str(m, "content")}
	if a.Status != 0 && (a.Status < 200 || a.Status > 599) {
		return errors.New("status must be an HTTP status, 200 to 599")
	}
	if !s.answer(id, a) {
		s.logf(KindWarning, "HttpResponse for request %s, which is already answered or unknown", id)
	}
	return nil
}
