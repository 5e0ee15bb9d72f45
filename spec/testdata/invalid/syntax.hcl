dataset "cub" {
  kind = "cub200" "x" # ERROR: Missing newline after argument
}
