package portal

// WithoutAddressForTest exposes withoutAddress to the external tests.
var WithoutAddressForTest = withoutAddress
