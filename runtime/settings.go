package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/imperalcloud/exthost/ctx"
)

// Config is the typed handle on an extension's config (the SDK's
// config_defaults): a struct with defaults, overlaid at start-up by the
// host config's extensions.<app_id>.config, decoded strictly.
type Config[T any] struct{}

// ExtensionConfig declares ext's config type and defaults and returns its
// handle. When T has a method Validate() error, the decoded config must
// pass it (return a *ConfigError to name the key at fault). It panics when
// ext has one already or T is not a struct.
func ExtensionConfig[T any](ext *Extension, defaults T) *Config[T] {
	ext.mustBeOpen("config")
	switch {
	case ext.config != nil:
		panic(fmt.Sprintf("runtime: %s: config declared twice", ext.info.AppID))
	case reflect.TypeFor[T]().Kind() != reflect.Struct:
		panic(fmt.Sprintf("runtime: %s: config must be a struct type, not %s", ext.info.AppID, reflect.TypeFor[T]()))
	}
	ext.config = func(raw json.RawMessage) (any, error) {
		v := defaults
		if len(raw) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&v); err != nil {
				return nil, configError(err)
			}
		}
		if validator, ok := any(&v).(Validator); ok {
			if err := validator.Validate(); err != nil {
				var ce *ConfigError
				if errors.As(err, &ce) {
					return nil, ce
				}
				return nil, &ConfigError{Problem: err.Error()}
			}
		}
		return v, nil
	}
	return &Config[T]{}
}

// Get returns the extension's config, as the host decoded it at start-up.
func (*Config[T]) Get(c *ctx.Call) T {
	v, _ := c.Config().(T)
	return v
}

// ConfigError is a config value the extension's type does not accept.
type ConfigError struct {
	// Key is the dotted path of the value inside the config ("" for the
	// config as a whole).
	Key string
	// Problem says what is wrong, never quoting the value.
	Problem string
}

// Error implements error.
func (e *ConfigError) Error() string {
	if e.Key == "" {
		return e.Problem
	}
	return e.Key + ": " + e.Problem
}

func configError(err error) *ConfigError {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return &ConfigError{Key: typeErr.Field, Problem: "must be " + typeErr.Type.String()}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &ConfigError{Key: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), Problem: "unknown key"}
	}
	return &ConfigError{Problem: "not a valid config"}
}

// DecodeConfig returns ext's config: its defaults overlaid by raw (a JSON
// object; empty means none). An extension that declares no config accepts
// none. Errors are *ConfigError.
func (e *Extension) DecodeConfig(raw json.RawMessage) (any, error) {
	if e.config == nil {
		if len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("{}")) {
			return nil, &ConfigError{Problem: "the extension declares no config"}
		}
		return nil, nil
	}
	return e.config(raw)
}

// SecretDecl is a secret an extension declares.
type SecretDecl struct {
	Name     string
	Required bool
}

var secretNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Secret is the handle on a declared secret: the only way to read it.
type Secret struct {
	name string
}

// DeclareSecret declares a secret of ext called name
// (^[a-z][a-z0-9_]{0,63}$); a required one missing stops the host at
// start-up. It panics when the name is malformed or taken.
func DeclareSecret(ext *Extension, name string, required bool) *Secret {
	ext.mustBeOpen("secret " + name)
	switch {
	case !secretNamePattern.MatchString(name):
		panic(fmt.Sprintf("runtime: %s: secret name %q must match %s", ext.info.AppID, name, secretNamePattern))
	case slices.ContainsFunc(ext.secrets, func(s SecretDecl) bool { return s.Name == name }):
		panic(fmt.Sprintf("runtime: %s: secret %q declared twice", ext.info.AppID, name))
	}
	ext.secrets = append(ext.secrets, SecretDecl{Name: name, Required: required})
	return &Secret{name: name}
}

// Name returns the secret's name.
func (s *Secret) Name() string { return s.name }

// Value returns the secret's value, and whether it is set.
func (s *Secret) Value(c *ctx.Call) (string, bool) { return c.Secret(s.name) }

// Secrets returns the secrets ext declares, in declaration order.
func (e *Extension) Secrets() []SecretDecl { return slices.Clone(e.secrets) }
