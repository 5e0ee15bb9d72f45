dataset "cub" { kind = "cub200" }

train "nir" {
  dataset     = dataset.cub
  embed_dim   = "big"        # ERROR: Incorrect value type
  lr          = [1e-5]       # ERROR: Incorrect value type
  use_float16 = "maybe"      # ERROR: Incorrect value type
  loss "nir" {
    w_align = { a = 1 }      # ERROR: Incorrect value type
  }
  schedule = {
    epochs = 2.5             # ERROR: Invalid value
    tau    = 100             # ERROR: Incorrect value type
  }
}
