package upgrade_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/raftshift/raftshift/upgrade"
)

var timeType = reflect.TypeFor[time.Time]()

// filler sets every exported field reachable from a value to a non-zero,
// deterministic value: pointers are allocated, slices and maps get two
// entries. It fails on kinds it cannot fill (interfaces, funcs, channels)
// and on unexported struct fields, so a field added later that the test
// cannot see fails loudly instead of being skipped.
type filler struct {
	t testing.TB
	n int
}

func (f *filler) next() int { f.n++; return f.n }

func (f *filler) fill(v reflect.Value, path string) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(f.next()) * time.Second)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", f.next()))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.next()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.next()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.next()))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			f.fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			f.fill(k, path+"[key]")
			e := reflect.New(v.Type().Elem()).Elem()
			f.fill(e, path+"[value]")
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				f.t.Fatalf("%s.%s: unexported field; extend the DeepCopy test", path, sf.Name)
			}
			f.fill(v.Field(i), path+"."+sf.Name)
		}
	default:
		f.t.Fatalf("%s: cannot fill kind %s; extend the DeepCopy test", path, v.Kind())
	}
}

// assertFilled checks that every leaf reachable from v is non-zero.
func assertFilled(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Type() == timeType {
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is nil", path)
			return
		}
		assertFilled(t, v.Elem(), path)
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
		}
		if v.Kind() == reflect.Slice {
			for i := range v.Len() {
				assertFilled(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		} else {
			for _, k := range v.MapKeys() {
				assertFilled(t, v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k))
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			assertFilled(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
	}
}

// mutate changes every leaf reachable from v in place: through pointers,
// slice elements and map entries (map entries are replaced and a new entry
// is added).
func mutate(v reflect.Value) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(1000 * time.Hour)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "!")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1000)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1000)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(v.Float() + 1000)
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			mutate(e)
			v.SetMapIndex(k, e)
		}
		k := reflect.New(v.Type().Key()).Elem()
		(&filler{n: 1 << 20}).fill(k, "")
		v.SetMapIndex(k, reflect.New(v.Type().Elem()).Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			mutate(v.Field(i))
		}
	}
}

// assertNoAlias walks a and b in parallel and reports any pointer, slice or
// map they share.
func assertNoAlias(t *testing.T, a, b reflect.Value, path string) {
	t.Helper()
	if a.Type() == timeType {
		return // time.Time's *Location is immutable and shared by design
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: pointer shared between original and copy", path)
		}
		assertNoAlias(t, a.Elem(), b.Elem(), path)
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: slice backing array shared between original and copy", path)
		}
		for i := range min(a.Len(), b.Len()) {
			assertNoAlias(t, a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if !a.IsNil() && !b.IsNil() && a.Pointer() == b.Pointer() {
			t.Errorf("%s: map shared between original and copy", path)
		}
	case reflect.Struct:
		for i := range a.NumField() {
			assertNoAlias(t, a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)
		}
	}
}

func testDeepCopy[T any](t *testing.T, deepCopy func(*T) *T) {
	t.Helper()
	name := reflect.TypeFor[T]().Name()
	newFilled := func() *T {
		v := new(T)
		(&filler{t: t}).fill(reflect.ValueOf(v).Elem(), name)
		return v
	}
	orig, want := newFilled(), newFilled()
	assertFilled(t, reflect.ValueOf(orig).Elem(), name)
	if !cmp.Equal(orig, want) {
		t.Fatalf("filler is not deterministic: %s", cmp.Diff(want, orig))
	}

	cp := deepCopy(orig)
	if cp == orig {
		t.Fatalf("DeepCopy returned its receiver")
	}
	if diff := cmp.Diff(orig, cp); diff != "" {
		t.Fatalf("DeepCopy differs from the original (-orig +copy):\n%s", diff)
	}
	assertNoAlias(t, reflect.ValueOf(orig).Elem(), reflect.ValueOf(cp).Elem(), name)
	mutate(reflect.ValueOf(cp).Elem())
	if diff := cmp.Diff(want, orig); diff != "" {
		t.Errorf("mutating the copy changed the original (-want +got):\n%s", diff)
	}
	if cmp.Equal(orig, cp) {
		t.Errorf("mutate did not change the copy")
	}
	// And the other way round: mutating the original leaves a copy alone.
	cp2 := deepCopy(orig)
	snapshot := deepCopy(orig)
	mutate(reflect.ValueOf(orig).Elem())
	if diff := cmp.Diff(snapshot, cp2); diff != "" {
		t.Errorf("mutating the original changed a copy (-want +got):\n%s", diff)
	}
	if deepCopy(nil) != nil {
		t.Errorf("DeepCopy(nil) != nil")
	}
	// The zero value copies to the zero value (nil slices stay nil).
	zero := new(T)
	if diff := cmp.Diff(zero, deepCopy(zero)); diff != "" {
		t.Errorf("DeepCopy of the zero value differs:\n%s", diff)
	}
}

func TestObservationDeepCopy(t *testing.T) {
	testDeepCopy(t, (*upgrade.Observation).DeepCopy)
}

func TestDeepCopyReachesSubStructs(t *testing.T) {
	// Guard the filler itself: the collections of an Observation must be
	// populated by the reflective fill.
	var o upgrade.Observation
	(&filler{t: t}).fill(reflect.ValueOf(&o).Elem(), "Observation")
	if len(o.Service.Selector) == 0 || len(o.Members) == 0 || len(o.Workloads) == 0 || len(o.Hooks) == 0 {
		t.Fatalf("filler left collections empty: %+v", o)
	}
}
