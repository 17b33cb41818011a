// Package contract is the one contract rolling and bluegreen keep with
// their hosts: the same validation and typed errors for the same bad input,
// one condition set (Ready, Progressing, Degraded, BreakGlass) with one
// reason vocabulary (upgrade.Reason*), and the same retry semantics. Both
// strategies call it; nothing outside this module can.
package contract
