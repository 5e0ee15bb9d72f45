dataset "cub" { kind = "cub200" }

train "a" {
  dataset = dataset.cub
  loss "nirr" { # ERROR: Unknown loss kind
    w_align = 1
  }
}

train "b" {
  dataset = dataset.cub
  loss "nir" {
    w_alig = 1 # ERROR: Unsupported argument
  }
  schedule = {
    epoch = 10 # ERROR: Unsupported field
  }
  loss = "nir" # ERROR: Unsupported argument
}

train "c" {
  dataset = dataset.cub
  loss "oproxy" {}
  schedule { # ERROR: Unsupported block type
    epochs = 10
  }
}
