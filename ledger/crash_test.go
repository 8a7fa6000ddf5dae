package ledger

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain's child mode: when LEDGER_CRASH_DIR is set the test binary runs
// crashChild instead of the tests, so the parent can kill -9 it mid-write.
func init() {
	if dir := os.Getenv("LEDGER_CRASH_DIR"); dir != "" {
		crashChild(dir, os.Getenv("LEDGER_CRASH_KEY"))
		os.Exit(0)
	}
}

// crashChild appends the deterministic entries from the checkpointed size on,
// in random batches, with a checkpoint after a random number of batches, and
// prints each checkpointed size, forever.
func crashChild(dir, skey string) {
	ctx := context.Background()
	signer, err := noteSigner(skey)
	if err != nil {
		panic(err)
	}
	l, err := Open(ctx, dir, testOrigin, signer)
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(2)
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for {
		for range r.IntN(20) + 1 {
			if _, err := l.Append(entries(l.Size(), l.Size()+uint64(r.IntN(700)+1))); err != nil {
				panic(err)
			}
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			panic(err)
		}
		fmt.Println(l.Checkpointed())
	}
}

// TestKill9 kills a writer process with SIGKILL at random moments and checks
// the crash contract: Open resumes at a checkpoint at least as new as the
// last one the child reported, the root is right, and the ledger verifies.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	skey, vkey, err := NewKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	k := testKey{}
	if k.signer, err = noteSigner(skey); err != nil {
		t.Fatal(err)
	}
	if k.verifier, err = noteVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LEDGER_CRASH_DIR="+dir, "LEDGER_CRASH_KEY="+skey)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		reported := make(chan uint64, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.ParseUint(strings.TrimSpace(sc.Text()), 10, 64); err == nil {
					reported <- n
				}
			}
			close(reported)
		}()
		time.Sleep(time.Duration(100+r.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		var last uint64
		for n := range reported {
			last = n
		}
		l, err := Open(context.Background(), dir, testOrigin, k.signer)
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		got := l.Checkpointed()
		root, _ := l.Root()
		l.Close()
		if got < last {
			t.Fatalf("round %d: reopened at %d, child had checkpointed %d", round, got, last)
		}
		if root != refRoot(t, got) {
			t.Fatalf("round %d: wrong root at %d", round, got)
		}
		if rep := mustVerify(t, dir, k); !rep.OK() {
			t.Fatalf("round %d: Verify after kill at %d: %v", round, got, rep.Problems)
		}
		t.Logf("round %d: killed after checkpoint %d, resumed at %d", round, last, got)
	}
}
