package tcpinfo

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"reflect"
	"testing"
	"unsafe"
)

// TestBulkTypesHoldNoPointers: the garbage collector does not look into
// a bulk's blocks, so no type a bulk holds may hold a pointer. Every type
// of pointerFree is listed here.
func TestBulkTypesHoldNoPointers(t *testing.T) {
	var hasPointer func(reflect.Type) bool
	hasPointer = func(typ reflect.Type) bool {
		switch typ.Kind() {
		case reflect.Array:
			return hasPointer(typ.Elem())
		case reflect.Struct:
			for f := range typ.Fields() {
				if hasPointer(f.Type) {
					return true
				}
			}
			return false
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			return false
		}
		return true
	}
	checked := map[string]reflect.Type{"int32": reflect.TypeFor[int32](), "uint64": reflect.TypeFor[uint64](),
		"[2]uint8": reflect.TypeFor[[2]uint8](), "pressureRow": reflect.TypeFor[pressureRow](), "peer6": reflect.TypeFor[peer6]()}
	for name, typ := range checked {
		if hasPointer(typ) {
			t.Errorf("%s holds a pointer: it cannot live in a bulk", name)
		}
	}
	// The list above is the constraint's, read from its source: a type
	// added there and not here fails.
	f, err := parser.ParseFile(token.NewFileSet(), "bulk.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var inUnion []string
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Name == "pointerFree" {
			union := ts.Type.(*ast.InterfaceType).Methods.List[0].Type
			for {
				b, ok := union.(*ast.BinaryExpr)
				if !ok {
					break
				}
				inUnion = append(inUnion, types.ExprString(b.Y))
				union = b.X
			}
			inUnion = append(inUnion, types.ExprString(union))
		}
		return true
	})
	if len(inUnion) != len(checked) {
		t.Errorf("pointerFree is %v; this test checks %d types", inUnion, len(checked))
	}
	for _, name := range inUnion {
		if _, ok := checked[name]; !ok {
			t.Errorf("pointerFree's %s is not checked here", name)
		}
	}
}

// TestBulkHandsOutZeroedAlignedMemory: what a bulk hands out is zero,
// 64-byte aligned, apart from everything else it handed out, and larger
// than a block when asked.
func TestBulkHandsOutZeroedAlignedMemory(t *testing.T) {
	var b bulk
	type span struct{ lo, hi uintptr }
	var spans []span
	for i, n := range []int{1, 1 << 16, 5000, bulkBlock, 3, 3*hugePage + 1, 100} {
		s := bulkMake[int32](&b, n)
		if len(s) != n {
			t.Fatalf("asked %d, got %d", n, len(s))
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
		if lo%64 != 0 {
			t.Errorf("take %d at %#x: not 64-byte aligned", i, lo)
		}
		for j, v := range s {
			if v != 0 {
				t.Fatalf("take %d: [%d] is %d, not zero", i, j, v)
			}
			s[j] = int32(i + 1) // the next take must not see these
		}
		hi := lo + uintptr(4*n)
		for _, o := range spans {
			if lo < o.hi && o.lo < hi {
				t.Errorf("take %d [%#x, %#x) overlaps [%#x, %#x)", i, lo, hi, o.lo, o.hi)
			}
		}
		spans = append(spans, span{lo, hi})
	}
	if s := bulkMake[int32](nil, 3); len(s) != 3 {
		t.Errorf("no bulk: %d", len(s))
	}
}
