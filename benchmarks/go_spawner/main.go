// A Go spawner of exec-mode middlewares: the yardstick of DESIGN.md's exec budget ("no
// slower than a Go program spawning the same executable, at any load").
//
// It does per call what openruntime's exec runner does: start `COMMAND... HOOK` in a new
// session with the given environment, write the payload to its STDIN, collect STDOUT and
// STDERR, wait for the exit status. os/exec, standard library only.
//
// Driven over its STDIN by benchmarks/exec_vs_go.py, one request per line: "N" runs N calls
// and answers one line of N wall times in nanoseconds; EOF ends it. Configuration comes
// from the environment of this process: SPAWN_COMMAND (JSON array), SPAWN_HOOK,
// SPAWN_PAYLOAD_FILE; the child's environment is this process's own.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var command []string
	if err := json.Unmarshal([]byte(os.Getenv("SPAWN_COMMAND")), &command); err != nil || len(command) == 0 {
		fmt.Fprintln(os.Stderr, "go_spawner: SPAWN_COMMAND must be a JSON array of strings")
		os.Exit(2)
	}
	payload, err := os.ReadFile(os.Getenv("SPAWN_PAYLOAD_FILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_spawner:", err)
		os.Exit(2)
	}
	args := append(append([]string{}, command[1:]...), os.Getenv("SPAWN_HOOK"))
	env := os.Environ()
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		n, err := strconv.Atoi(strings.TrimSpace(in.Text()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "go_spawner: expected a count, got", in.Text())
			os.Exit(2)
		}
		times := make([]string, 0, n)
		for i := 0; i < n; i++ {
			var stdout, stderr bytes.Buffer
			started := time.Now()
			cmd := exec.Command(command[0], args...)
			cmd.Env = env
			cmd.Stdin = bytes.NewReader(payload)
			cmd.Stdout = &stdout
			cmd.Stderr = &stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "go_spawner:", err, stderr.String())
				os.Exit(1)
			}
			elapsed := time.Since(started)
			if !bytes.Equal(stdout.Bytes(), payload) {
				fmt.Fprintln(os.Stderr, "go_spawner: the payload came back changed")
				os.Exit(1)
			}
			times = append(times, strconv.FormatInt(elapsed.Nanoseconds(), 10))
		}
		fmt.Fprintln(out, strings.Join(times, " "))
		out.Flush()
	}
}
