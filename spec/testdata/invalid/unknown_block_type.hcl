dataset "cub" { kind = "cub200" }

trian "nir" { # ERROR: Unsupported block type
  dataset = dataset.cub
}
