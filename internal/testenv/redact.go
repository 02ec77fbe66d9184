package testenv

// RedactCase is one URL and what every redactor must print for it: Go's
// download.Redact and the generated scripts' redact() follow one rule, so
// one table tests both.
type RedactCase struct {
	URL, Want string
	// Secret must not appear in the output.
	Secret string
}

// RedactCases are the redaction rule as examples: user info (everything up
// to the last @, so a password holding @ is hidden whole) becomes ***@, and
// the query and fragment, where pre-signed URLs keep their signature, are
// dropped.
var RedactCases = []RedactCase{
	{URL: "https://bitcoincore.org/bin/SHA256SUMS", Want: "https://bitcoincore.org/bin/SHA256SUMS"},
	{URL: "https://user:s3cret@mirror.example/a/b.tar.gz", Want: "https://***@mirror.example/a/b.tar.gz", Secret: "s3cret"},
	{URL: "https://token@mirror.example/", Want: "https://***@mirror.example/", Secret: "token"},
	{URL: "https://user:p@ss@mirror.example/x", Want: "https://***@mirror.example/x", Secret: "ss"},
	{URL: "http://mirror.internal:8080/bitcoincore.org/bin/x", Want: "http://mirror.internal:8080/bitcoincore.org/bin/x"},
	{URL: "https://bucket.s3.amazonaws.com/snap.tar?X-Amz-Signature=abc123&X-Amz-Credential=AKIAEXAMPLE", Want: "https://bucket.s3.amazonaws.com/snap.tar", Secret: "AKIAEXAMPLE"},
	{URL: "https://host/path#token=frag", Want: "https://host/path", Secret: "frag"},
	{URL: "https://u:pw@host/p?sig=zz#f", Want: "https://***@host/p", Secret: "pw"},
	{URL: "user:pw@host/no-scheme", Want: "***@host/no-scheme", Secret: "pw"},
	{URL: "file:///srv/mirror/x", Want: "file:///srv/mirror/x"},
}
