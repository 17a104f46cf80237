// Package environment is the one definition of where partner apps, consents,
// customers, webhook endpoints and usage live: the sandbox or production.
// (Not to be confused with a partner's lifecycle status partners.StatusSandbox.)
package environment

import "fmt"

// Environment is "sandbox" or "production". It is a string type, so gorm
// stores it as TEXT and JSON carries it as a string unchanged.
type Environment string

// The environments.
const (
	Sandbox    Environment = "sandbox"
	Production Environment = "production"
)

// All returns every environment, sandbox first.
func All() []Environment { return []Environment{Sandbox, Production} }

// Valid reports whether e is Sandbox or Production.
func (e Environment) Valid() bool { return e == Sandbox || e == Production }

// String returns the environment's name.
func (e Environment) String() string { return string(e) }

// UnknownError is Parse's refusal of a name that is not an environment.
type UnknownError struct {
	Value string // the name refused
}

// Error is `environment must be "sandbox" or "production", not "<value>"`.
func (e *UnknownError) Error() string {
	return fmt.Sprintf("environment must be %q or %q, not %q", Sandbox, Production, e.Value)
}

// Parse returns the environment named s, exactly ("sandbox" or
// "production"; no case folding or trimming), or an *UnknownError.
func Parse(s string) (Environment, error) {
	if e := Environment(s); e.Valid() {
		return e, nil
	}
	return "", &UnknownError{Value: s}
}
