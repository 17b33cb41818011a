package contract

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

var (
	timeType      = reflect.TypeOf(metav1.Time{})
	microTimeType = reflect.TypeOf(metav1.MicroTime{})
)

// fill sets every field reachable from v (pointers allocated, slices of one
// element) to a non-zero value.
func fill(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))))
		return
	case v.Type() == microTimeType:
		v.Set(reflect.ValueOf(metav1.NewMicroTime(time.Date(2026, 1, 1, 0, 0, 0, 1000, time.UTC))))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// leaves lists the paths (field indices, through pointers) of every field
// reachable from v that sameStatus compares as a whole: scalars, times and
// slices.
func leaves(v reflect.Value, path []int, name string, out map[string][]int) {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || v.Type() == timeType || v.Type() == microTimeType {
		out[name] = append([]int(nil), path...)
		return
	}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if name == "Status" && f.Name == "Conditions" {
			continue // Unchanged compares conditions itself
		}
		leaves(v.Field(i), append(path, i), name+"."+f.Name, out)
	}
}

// change alters the leaf of v at path.
func change(v reflect.Value, path []int) {
	for _, i := range path {
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		v = v.Field(i)
	}
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(metav1.NewTime(v.Interface().(metav1.Time).Add(time.Second))))
	case v.Type() == microTimeType:
		v.Set(reflect.ValueOf(metav1.NewMicroTime(v.Interface().(metav1.MicroTime).Add(time.Microsecond))))
	case v.Kind() == reflect.String:
		v.SetString(v.String() + "x")
	case v.Kind() == reflect.Bool:
		v.SetBool(!v.Bool())
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int32 || v.Kind() == reflect.Int64:
		v.SetInt(v.Int() + 1)
	case v.Kind() == reflect.Uint || v.Kind() == reflect.Uint32 || v.Kind() == reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case v.Kind() == reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	default:
		panic("change: unhandled kind " + v.Kind().String())
	}
}

// TestSameStatusSeesEveryField changes each field of a status with every
// part present, one at a time, and requires sameStatus to see the change,
// so a field added to the status types cannot be forgotten there; it also
// requires a missing part (nil pointer) to differ from a present one.
func TestSameStatusSeesEveryField(t *testing.T) {
	var full upgrade.Status
	fill(reflect.ValueOf(&full).Elem())
	if !sameStatus(&full, full.DeepCopy()) {
		t.Fatal("a deep copy is not the same status")
	}
	paths := map[string][]int{}
	leaves(reflect.ValueOf(&full).Elem(), nil, "Status", paths)
	for name, path := range paths {
		c := full.DeepCopy()
		change(reflect.ValueOf(c).Elem(), path)
		if sameStatus(&full, c) || sameStatus(c, &full) {
			t.Errorf("a change of %s is not seen", name)
		}
	}
	if len(paths) < 60 {
		t.Errorf("only %d fields compared: the walk misses some", len(paths))
	}
	for i, f := range []func(*upgrade.Status){
		func(s *upgrade.Status) { s.Upgrade = nil },
		func(s *upgrade.Status) { s.Upgrade.Rolling = nil },
		func(s *upgrade.Status) { s.Upgrade.BlueGreen = nil },
		func(s *upgrade.Status) { s.Upgrade.Paused = nil },
		func(s *upgrade.Status) { s.Upgrade.Held = nil },
		func(s *upgrade.Status) { s.LastResult = nil },
		func(s *upgrade.Status) { s.BreakGlass = nil },
		func(s *upgrade.Status) { s.Expected = nil },
	} {
		c := full.DeepCopy()
		f(c)
		if sameStatus(&full, c) || sameStatus(c, &full) {
			t.Errorf("missing part %d is not seen", i)
		}
	}
}
