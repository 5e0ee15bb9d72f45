package failpoint

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func armEnv(t *testing.T, spec string) {
	t.Helper()
	t.Setenv(EnvVar, spec)
	reset()
	t.Cleanup(reset)
}

func TestInertWhenUnset(t *testing.T) {
	armEnv(t, "")
	for range 3 {
		if err := Inject("train.step"); err != nil {
			t.Fatal(err)
		}
	}
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

func TestErrorFiresOnTheNthHitOnly(t *testing.T) {
	armEnv(t, "train.step:3=error, store.lock=error")
	var fired []int
	for i := 1; i <= 5; i++ {
		if err := Inject("train.step"); err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Point != "train.step" || fe.Hit != 3 {
				t.Fatalf("hit %d: %v", i, err)
			}
			fired = append(fired, i)
		}
	}
	if len(fired) != 1 || fired[0] != 3 {
		t.Errorf("fired on hits %v, want [3]", fired)
	}
	if err := Inject("store.lock"); err == nil {
		t.Error("store.lock=error did not fire on its first hit")
	}
	if err := Inject("train.epoch-end"); err != nil {
		t.Errorf("an unarmed point fired: %v", err)
	}
}

func TestPanicAction(t *testing.T) {
	armEnv(t, "evaluate.metrics=panic")
	defer func() {
		r := recover()
		if fe, ok := r.(*Error); !ok || fe.Point != "evaluate.metrics" {
			t.Fatalf("recovered %v, want *Error for evaluate.metrics", r)
		}
	}()
	_ = Inject("evaluate.metrics")
	t.Fatal("panic action did not panic")
}

func TestBadSpecs(t *testing.T) {
	for spec, want := range map[string]string{
		"train.stpe=kill":                   `unknown point "train.stpe"`,
		"train.step=explode":                `unknown action "explode"`,
		"train.step:0=kill":                 "hit count must be a whole number >= 1",
		"train.step:x=kill":                 "hit count must be a whole number >= 1",
		"train.step":                        "is not POINT[:N]=ACTION",
		"load.shard=kill,load.shard:2=kill": `armed twice`,
	} {
		t.Run(spec, func(t *testing.T) {
			armEnv(t, spec)
			err := Check()
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Check() = %v, want it to say %q", err, want)
			}
			// A bad setting arms nothing.
			if err := Inject("train.step"); err != nil {
				t.Errorf("Inject with a bad spec: %v", err)
			}
		})
	}
}

func TestUnlistedPointPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Inject of an unlisted point did not panic")
		}
	}()
	_ = Inject("no.such.point")
}

// TestKillAndExit runs this test binary as a child that arms a point and reaches it.
func TestKillAndExit(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		for range 2 {
			_ = Inject("train.epoch-end")
		}
		os.Exit(0) // not reached when armed for hit 1 or 2
	}
	for _, c := range []struct {
		spec  string
		check func(*exec.ExitError) bool
	}{
		{"train.epoch-end:2=kill", func(e *exec.ExitError) bool {
			ws, ok := e.Sys().(syscall.WaitStatus)
			return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
		}},
		{"train.epoch-end=exit", func(e *exec.ExitError) bool { return e.ExitCode() == ExitCode }},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillAndExit$")
		cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", EnvVar+"="+c.spec)
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !c.check(ee) {
			t.Errorf("%s: child ended with %v", c.spec, err)
		}
	}
}

// TestStop: a child armed with stop is stopped at the point (wait4 with WUNTRACED reports
// it, no polling), goes on when continued, and exits normally.
func TestStop(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		if err := Inject("train.epoch-end"); err != nil {
			os.Exit(3)
		}
		os.Exit(7) // reached only after SIGCONT
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStop$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", EnvVar+"=train.epoch-end=stop")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WUNTRACED, nil); err != nil {
		t.Fatal(err)
	}
	if !ws.Stopped() || ws.StopSignal() != syscall.SIGSTOP {
		t.Fatalf("child: %v, want stopped by SIGSTOP", ws)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("continued child: %v, want exit status 7", ws)
	}
}
