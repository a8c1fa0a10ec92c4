package grafana

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the dashboard JSON files from the definitions")

// TestDashboardsUpToDate keeps the checked-in JSON in step with the
// definitions: run `go test ./deploy/grafana -update` after editing them.
func TestDashboardsUpToDate(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Dashboards() {
		require.False(t, seen[d.UID], "duplicate uid %s", d.UID)
		seen[d.UID] = true
		want, err := d.JSON()
		require.NoError(t, err)
		if *update {
			require.NoError(t, os.WriteFile(d.File, want, 0o644))
			continue
		}
		got, err := os.ReadFile(d.File)
		require.NoError(t, err, "run go test ./deploy/grafana -update")
		require.Equal(t, string(want), string(got), "%s is stale: run go test ./deploy/grafana -update", d.File)
	}
}

func TestPanelsHaveQueries(t *testing.T) {
	for _, d := range Dashboards() {
		for _, r := range d.Rows {
			require.NotEmpty(t, r.Panels, "%s: row %q", d.File, r.Title)
			for _, p := range r.Panels {
				require.NotEmpty(t, p.Targets, "%s: panel %q", d.File, p.Title)
				require.LessOrEqual(t, len(p.Targets), 26, "%s: panel %q", d.File, p.Title)
				for _, tg := range p.Targets {
					require.NotEmpty(t, tg.Expr, "%s: panel %q", d.File, p.Title)
				}
			}
		}
	}
}
