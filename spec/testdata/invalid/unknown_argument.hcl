dataset "cub" {
  kind  = "cub200"
  rooot = "/data" # ERROR: Unsupported argument
}
