// Not implemented yet: this package is a placeholder in the layout and exports nothing.
// See its README for the status.
export {};
