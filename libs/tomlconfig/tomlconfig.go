package tomlconfig

import (
	"fmt"

	"github.com/BurntSushi/toml"
)

// DecodeFile decodes the TOML file at path into v (a pointer to a config
// struct already holding its defaults, so keys absent from the file keep
// them). It fails if the file cannot be read or parsed, or names a key v
// has no field for.
func DecodeFile(path string, v any) error {
	md, err := toml.DecodeFile(path, v)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		return fmt.Errorf("config file %s: unknown keys %v", path, undec)
	}
	return nil
}
