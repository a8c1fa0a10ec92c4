package linearizability

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// OpKind is the kind of one operation.
type OpKind uint8

const (
	OpGet OpKind = iota
	OpPut
	OpCAS
)

// Input is an operation as called.
type Input struct {
	Kind            OpKind
	Key             string
	Value           string // put, CAS: the value written
	ExpectedVersion uint64 // CAS
}

// Output is an operation's answer. Unknown is set for writes whose outcome
// the client never learnt (timeout, connection lost): they may or may not
// have been applied, so the model accepts them either way and their return
// time is the end of the history.
type Output struct {
	Value     string
	Version   uint64 // 0: absent
	Succeeded bool   // CAS
	Unknown   bool
}

// register is the state of one key.
type register struct {
	Value   string
	Version uint64
}

// Model is a versioned register per key. Versions follow FlareDB's rule:
// each successful write gives the key its previous version plus one.
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return register{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(register), input.(Input), output.(Output)
		next := register{Value: in.Value, Version: st.Version + 1}
		switch in.Kind {
		case OpGet:
			return out.Version == st.Version && out.Value == st.Value, st
		case OpPut:
			if out.Unknown {
				return true, next
			}
			return out.Version == next.Version, next
		case OpCAS:
			applies := st.Version == in.ExpectedVersion
			if out.Unknown {
				if applies {
					return true, next
				}
				return true, st
			}
			if out.Succeeded {
				return applies && out.Version == next.Version, next
			}
			return !applies && out.Version == st.Version && out.Value == st.Value, st
		}
		return false, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(Input), output.(Output)
		res := fmt.Sprintf("%q@%d", out.Value, out.Version)
		if out.Unknown {
			res = "unknown"
		}
		switch in.Kind {
		case OpGet:
			return fmt.Sprintf("get(%s) -> %s", in.Key, res)
		case OpPut:
			if !out.Unknown {
				res = fmt.Sprintf("v%d", out.Version)
			}
			return fmt.Sprintf("put(%s, %q) -> %s", in.Key, in.Value, res)
		default:
			if !out.Unknown {
				res = fmt.Sprintf("ok=%t %s", out.Succeeded, res)
			}
			return fmt.Sprintf("cas(%s, v%d, %q) -> %s", in.Key, in.ExpectedVersion, in.Value, res)
		}
	},
	DescribeState: func(state any) string {
		st := state.(register)
		return fmt.Sprintf("%q@%d", st.Value, st.Version)
	},
}
