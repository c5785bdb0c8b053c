package jsapi

import (
	"math"
	"strconv"
	"sync"
	"time"
	// Time zones come with the binary, so working hours (S12) are computed the
	// same on a host without /usr/share/zoneinfo as on one with it.
	_ "time/tzdata"

	"github.com/dop251/goja"
)

// zones caches loaded time zones by IANA name: LoadLocation parses the zone's
// data on every call, and a scenario asks on every call it handles. A name that
// does not load is not cached, so what a scenario can put here is bounded by
// the tz database itself.
var zones sync.Map // string -> *time.Location

func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// zonedTime is host.zonedTime(zone, ms): the wall-clock fields of the instant
// ms (milliseconds since the Unix epoch, as Date.now() gives them) in the IANA
// time zone, for VoxEngine.zonedTime. goja has no Intl, so a scenario cannot
// otherwise tell what time it is in Moscow when the server runs in UTC.
func zonedTime(vm *goja.Runtime) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		name := call.Argument(0).String()
		ms := call.Argument(1).ToFloat()
		if math.IsNaN(ms) || math.IsInf(ms, 0) {
			panic(throwRange(vm, "VoxEngine.zonedTime: the time is not a finite number of milliseconds"))
		}
		// "" and "Local" would name the server's own zone: a scenario's
		// hours must not change with the host it happens to run on.
		if name == "" || name == "Local" {
			panic(throwRange(vm, "VoxEngine.zonedTime: name an IANA time zone such as \"Europe/Moscow\" or \"UTC\""))
		}
		loc, err := loadZone(name)
		if err != nil {
			panic(throwRange(vm, "VoxEngine.zonedTime: unknown time zone "+quote(name)))
		}
		t := time.UnixMilli(int64(ms)).In(loc)
		_, offset := t.Zone()
		o := vm.NewObject()
		for _, f := range []struct {
			key string
			val any
		}{
			{"year", t.Year()}, {"month", int(t.Month())}, {"day", t.Day()},
			{"hour", t.Hour()}, {"minute", t.Minute()}, {"second", t.Second()},
			{"weekday", int(t.Weekday())}, {"offset", offset / 60},
			{"date", t.Format("2006-01-02")}, {"time", t.Format("15:04")},
		} {
			must(o.Set(f.key, f.val))
		}
		return o
	}
}

// quote shows a scenario's zone name in an error, cut short: the name is
// the scenario's input, and an error message is no place for a megabyte.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
