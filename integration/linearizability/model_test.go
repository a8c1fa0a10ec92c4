package linearizability

import (
	"os"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

// The model must tell linearizable histories from broken ones, or the
// cluster tests would pass whatever the store does.
func TestModel(t *testing.T) {
	put := func(v string) Input { return Input{Kind: OpPut, Key: "k", Value: v} }
	get := Input{Kind: OpGet, Key: "k"}
	cas := func(exp uint64, v string) Input { return Input{Kind: OpCAS, Key: "k", Value: v, ExpectedVersion: exp} }
	tests := []struct {
		name    string
		history []porcupine.Operation
		ok      bool
	}{
		{"sequential put get", []porcupine.Operation{
			op(0, 0, 1, put("a"), Output{Version: 1}),
			op(0, 2, 3, get, Output{Value: "a", Version: 1}),
		}, true},
		{"stale read after acknowledged put", []porcupine.Operation{
			op(0, 0, 1, put("a"), Output{Version: 1}),
			op(0, 2, 3, put("b"), Output{Version: 2}),
			op(1, 4, 5, get, Output{Value: "a", Version: 1}),
		}, false},
		{"concurrent read may see either", []porcupine.Operation{
			op(0, 0, 1, put("a"), Output{Version: 1}),
			op(0, 2, 6, put("b"), Output{Version: 2}),
			op(1, 3, 4, get, Output{Value: "a", Version: 1}),
		}, true},
		{"lost acknowledged write", []porcupine.Operation{
			op(0, 0, 1, put("a"), Output{Version: 1}),
			op(1, 2, 3, get, Output{}),
		}, false},
		{"CAS success and conflict", []porcupine.Operation{
			op(0, 0, 1, put("a"), Output{Version: 1}),
			op(0, 2, 3, cas(1, "b"), Output{Succeeded: true, Value: "b", Version: 2}),
			op(1, 4, 5, cas(1, "c"), Output{Value: "b", Version: 2}),
		}, true},
		{"two CAS on one version both succeed", []porcupine.Operation{
			op(0, 0, 1, put("a"), Output{Version: 1}),
			op(0, 2, 5, cas(1, "b"), Output{Succeeded: true, Value: "b", Version: 2}),
			op(1, 3, 6, cas(1, "c"), Output{Succeeded: true, Value: "c", Version: 2}),
		}, false},
		{"unknown put may be applied", []porcupine.Operation{
			op(0, 0, 100, put("a"), Output{Unknown: true}),
			op(1, 2, 3, get, Output{Value: "a", Version: 1}),
		}, true},
		{"unknown put may be lost", []porcupine.Operation{
			op(0, 0, 100, put("a"), Output{Unknown: true}),
			op(1, 2, 3, get, Output{}),
		}, true},
		{"version skipped", []porcupine.Operation{
			op(0, 0, 1, put("a"), Output{Version: 2}),
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			res, path, err := check(tt.history, dir, "model")
			require.NoError(t, err)
			if tt.ok {
				require.Equal(t, porcupine.Ok, res)
				require.Empty(t, path)
				return
			}
			require.Equal(t, porcupine.Illegal, res)
			b, err := os.ReadFile(path)
			require.NoError(t, err, "a violation writes the visualization")
			require.Contains(t, string(b), "<html")
		})
	}
}
