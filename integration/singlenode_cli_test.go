package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/integration/framework"
)

// TestSingleNodeCLI runs the flarectl binary against a real PD and store and
// checks every command's text and JSON output and exit code exactly.
func TestSingleNodeCLI(t *testing.T) {
	pd, kv := framework.StartSingleNode(t)
	cli := func(args ...string) framework.CLIResult { return framework.Flarectl(t, pd.Addr(), args...) }
	ok := func(args ...string) string {
		t.Helper()
		res := cli(args...)
		require.Equal(t, 0, res.Code, "flarectl %v: %s", args, res.Stderr)
		return res.Stdout
	}

	// Missing key: success with found=false.
	require.Equal(t, "key=k not found\n", ok("get", "k"))
	require.Equal(t, `{"key":"k","value":null,"version":0,"found":false}`+"\n", ok("-o", "json", "get", "k"))

	require.Equal(t, "OK key=k version=1\n", ok("put", "k", "v1"))
	require.Equal(t, `{"key":"k","version":2}`+"\n", ok("-o", "json", "put", "k", "v2"))
	require.Equal(t, "key=k value=v2 version=2\n", ok("get", "k"))
	require.Equal(t, `{"key":"k","value":"v2","version":2,"found":true}`+"\n", ok("get", "k", "-o", "json"))
	require.Equal(t, "OK key=\"two words\" version=1\n", ok("put", "two words", "a b"))
	require.Equal(t, "key=\"two words\" value=\"a b\" version=1\n", ok("get", "two words"))

	// --hex in and out.
	require.Equal(t, "OK key=00ff version=1\n", ok("--hex", "put", "00ff", "0102"))
	require.Equal(t, "key=00ff value=0102 version=1\n", ok("--hex", "get", "00FF"))
	require.Equal(t, `{"key":"00ff","value":"0102","version":1,"found":true}`+"\n", ok("--hex", "-o", "json", "get", "00ff"))
	require.Equal(t, "key=6b value=7632 version=2\n", ok("--hex", "get", "6b"))

	// CAS: create-only, conflict, success.
	require.Equal(t, "OK version=1\n", ok("cas", "c", "x", "--expect-version", "0"))
	require.Equal(t, "CONFLICT version=1 value=x\n", ok("cas", "c", "y", "--expect-version", "0"))
	require.Equal(t, `{"succeeded":false,"version":1,"value":"x"}`+"\n", ok("-o", "json", "cas", "c", "y", "--expect-version", "7"))
	require.Equal(t, `{"succeeded":true,"version":2,"value":"y"}`+"\n", ok("-o", "json", "cas", "c", "y", "--expect-version", "1"))
	require.Equal(t, "CONFLICT key absent\n", ok("cas", "absent", "y", "--expect-version", "3"))
	require.Equal(t, `{"succeeded":false,"version":0,"value":null}`+"\n", ok("-o", "json", "cas", "absent", "y", "--expect-version", "3"))

	// Scans.
	for i := 1; i <= 4; i++ {
		ok("put", fmt.Sprintf("s%d", i), fmt.Sprintf("v%d", i))
	}
	require.Equal(t, "key=s1 value=v1 version=1\nkey=s2 value=v2 version=1\nkey=s3 value=v3 version=1\nkey=s4 value=v4 version=1\n",
		ok("scan", "s", "t"))
	require.Equal(t, "key=s4 value=v4 version=1\nkey=s3 value=v3 version=1\n", ok("scan", "s", "t", "--reverse", "--limit", "2"))
	require.Equal(t, "key=s2 version=1\nkey=s3 version=1\n", ok("scan", "s2", "s4", "--key-only"))
	require.Equal(t, `{"key":"s1","value":"v1","version":1}`+"\n"+`{"key":"s2","value":"v2","version":1}`+"\n",
		ok("-o", "json", "scan", "s", "t", "--limit", "2"))
	require.Equal(t, "key=s4 value=v4 version=1\n", ok("scan", "s4", "--limit", "1"), "END absent: to the end")
	require.Equal(t, "", ok("scan", "x", "y"), "an empty range prints nothing")

	// Deletes.
	require.Equal(t, "OK\n", ok("delete-range", "s2", "s4"))
	require.Equal(t, "key=s1 version=1\nkey=s4 version=1\n", ok("scan", "s", "t", "--key-only"))
	require.Equal(t, `{"ok":true}`+"\n", ok("-o", "json", "delete", "s1"))
	require.Equal(t, "OK\n", ok("delete", "s1"))
	require.Equal(t, "key=s1 not found\n", ok("get", "s1"))

	// tso: text and JSON agree on the layout; timestamps increase.
	var ts1, ts2 struct {
		TS         uint64 `json:"ts"`
		PhysicalMs int64  `json:"physical_ms"`
		Logical    int64  `json:"logical"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok("-o", "json", "tso")), &ts1))
	require.NoError(t, json.Unmarshal([]byte(ok("-o", "json", "tso")), &ts2))
	require.Greater(t, ts2.TS, ts1.TS)
	require.Equal(t, ts1.TS, uint64(ts1.PhysicalMs)<<18|uint64(ts1.Logical))
	require.Regexp(t, `^ts=\d+ physical=\d{4}-\d\d-\d\dT[0-9:.]+Z logical=\d+\n$`, ok("tso"))

	// status: one store (up, at kv's address) and its region.
	lines := strings.Split(strings.TrimSpace(ok("-o", "json", "status")), "\n")
	require.Len(t, lines, 2)
	var store map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &store))
	require.Equal(t, "store", store["type"])
	require.Equal(t, kv.Addr(), store["address"])
	require.Equal(t, "up", store["state"])
	require.NotEmpty(t, store["last_heartbeat"])
	var region struct {
		Type     string `json:"type"`
		ID       uint64 `json:"id"`
		StartKey string `json:"start_key"`
		EndKey   string `json:"end_key"`
		Epoch    struct {
			ConfVer uint64 `json:"conf_ver"`
			Version uint64 `json:"version"`
		} `json:"epoch"`
		Peers  []map[string]any `json:"peers"`
		Leader map[string]any   `json:"leader"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &region))
	require.Equal(t, "region", region.Type)
	require.Equal(t, "", region.StartKey)
	require.Equal(t, "", region.EndKey)
	require.Len(t, region.Peers, 1)
	require.NotZero(t, region.Epoch.ConfVer)
	text := ok("status")
	require.Contains(t, text, kv.Addr())
	require.Regexp(t, `(?m)^STORE\s+ADDRESS\s+STATE\s+LAST HEARTBEAT$`, text)
	require.Regexp(t, `(?m)^REGION\s+RANGE\s+EPOCH\s+PEERS\s+LEADER$`, text)

	// Errors: exit 1 with the server's message; usage: exit 2.
	res := cli("put", strings.Repeat("k", 4097), "v")
	require.Equal(t, 1, res.Code)
	require.Contains(t, res.Stderr, "max key size")
	require.Empty(t, res.Stdout)
	res = cli("delete-range", "b", "a")
	require.Equal(t, 1, res.Code)
	require.Contains(t, res.Stderr, "must sort before")
	res = cli("put", "only-key")
	require.Equal(t, 2, res.Code)
	require.Contains(t, res.Stderr, "usage: flarectl put")
	res = cli("bogus")
	require.Equal(t, 2, res.Code)
	res = framework.Flarectl(t, "127.0.0.1:1", "--timeout", "1s", "get", "k")
	require.Equal(t, 1, res.Code, "unreachable PD is an error, not a usage error")
}
