// Package ledger is labtrust's tamper-evident log: an RFC 6962 Merkle tree
// stored as static files in the C2SP tlog-tiles layout
// (https://c2sp.org/tlog-tiles), with checkpoints in the C2SP tlog-checkpoint
// format signed as C2SP signed notes (Ed25519, golang.org/x/mod/sumdb/note).
//
// Each log entry is a 32-byte commitment (labtrust.Commit); the leaf hash is
// SHA-256(0x00 || entry) and interior nodes are SHA-256(0x01 || left || right),
// exactly as in RFC 6962, so golang.org/x/mod/sumdb/tlog,
// github.com/transparency-dev/merkle and Tessera's client tooling can read and
// verify a labtrust ledger directory without labtrust code.
//
// Layout of a ledger directory:
//
//	checkpoint                  the latest signed checkpoint (a signed note)
//	checkpoints.log             every checkpoint ever published, in order;
//	                            each note is preceded by a line holding its
//	                            length in bytes
//	tile/<L>/<N>[.p/<W>]        hash tiles of height 8 (256 hashes when full)
//	tile/entries/<N>[.p/<W>]    entry bundles: each entry prefixed by its
//	                            2-byte big-endian length
//
// The package has three parts: [Log], the single writer; [Reader], which
// serves entries and inclusion and consistency proofs from the files alone;
// and [Verify], which rechecks a whole directory and names every problem it
// finds. Proofs for one entry travel in the C2SP tlog-proof format
// ([FormatProof], [ParseProof], [VerifyProof]).
//
// Nothing in a ledger directory is PHI: entries are salted commitments, and
// errors and problems name files, indexes and hashes, never entry contents.
package ledger
