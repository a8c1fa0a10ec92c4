package integration

import (
	"testing"

	"github.com/flaredb/flaredb/integration/framework"
)

// TestMain removes binaries the framework built for this test binary. It is
// the package's only TestMain; other test files of the package share it.
func TestMain(m *testing.M) { framework.Main(m) }
