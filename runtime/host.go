package runtime

import (
	"fmt"
	"time"

	"github.com/dop251/goja"
)

// sessionHost is the session as the scenario's VM sees it (jsapi.Host). Its
// methods run on the session goroutine, inside a JS call.
type sessionHost Session

func (h *sessionHost) s() *Session { return (*Session)(h) }

func (h *sessionHost) NewCallID() string { return h.cfg.NewCallID() }

func (h *sessionHost) Log(text string) { h.log.Script(h.s().now(), text) }

func (h *sessionHost) Warn(text string) {
	s := h.s()
	s.log.Warning(s.now(), text)
	s.logger.Warn("scenario warning", "warning", text)
}

func (h *sessionHost) Command(name string, params []any) error {
	s := h.s()
	s.log.Command(s.now(), name, params)
	run, ok := commands[name]
	if !ok {
		return fmt.Errorf("unknown command %q", name)
	}
	if s.terminated {
		return nil
	}
	return run(s, params)
}

// minInterval keeps setInterval(f, 0) from spinning: browsers clamp the same way.
const minInterval = 10 * time.Millisecond

type jsTimer struct {
	fn     goja.Callable
	args   []goja.Value
	delay  time.Duration
	repeat bool
	timer  Timer
}

func (h *sessionHost) SetTimer(fn goja.Callable, args []goja.Value, delay time.Duration, repeat bool) (int64, error) {
	s := h.s()
	if len(s.timers) >= s.limits.MaxTimers {
		return 0, fmt.Errorf("timer limit: a session may have at most %d active timers", s.limits.MaxTimers)
	}
	if repeat && delay < minInterval {
		delay = minInterval
	}
	s.nextTimer++
	id := s.nextTimer
	t := &jsTimer{fn: fn, args: args, delay: delay, repeat: repeat}
	s.timers[id] = t
	s.arm(id, t)
	return id, nil
}

func (s *Session) arm(id int64, t *jsTimer) {
	t.timer = s.afterFunc(t.delay, func(s *Session) { s.post(func() { s.fireTimer(id) }) })
}

func (h *sessionHost) ClearTimer(id int64) {
	s := h.s()
	if t, ok := s.timers[id]; ok {
		t.timer.Stop()
		delete(s.timers, id)
	}
}

func (s *Session) fireTimer(id int64) {
	t, ok := s.timers[id]
	if !ok || s.terminated {
		return
	}
	if t.repeat {
		s.arm(id, t)
	} else {
		delete(s.timers, id)
	}
	s.runJS("running a timer", func() error {
		_, err := t.fn(goja.Undefined(), t.args...)
		return err
	})
}
