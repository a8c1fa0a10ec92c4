package obs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ExposedNames parses Prometheus text exposition format and returns the
// names it exposes: every sample's name (x_bucket, x_sum, x_count for
// histograms) and every family name from # TYPE lines.
func ExposedNames(r io.Reader) (map[string]bool, error) {
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "# TYPE "):
			if f := strings.Fields(line); len(f) >= 3 {
				names[f[2]] = true
			}
		case strings.HasPrefix(line, "#"):
		default:
			end := strings.IndexAny(line, "{ \t")
			if end <= 0 {
				return nil, fmt.Errorf("malformed sample line %q", line)
			}
			names[line[:end]] = true
		}
	}
	return names, sc.Err()
}

// ScrapeNames fetches url (a /metrics endpoint) in text format and returns
// ExposedNames of the answer.
func ScrapeNames(ctx context.Context, url string) (map[string]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return ExposedNames(resp.Body)
}
