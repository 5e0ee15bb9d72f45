package main

import (
	"os"

	"dmlrun/internal/cli"
)

func main() {
	os.Exit(int(cli.Main()))
}
