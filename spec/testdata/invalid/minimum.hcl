# Numbers below a parameter's minimum (stage.Param.Min) are reported at the value.
dataset "d" { kind = "synthetic" }

train "t" {
  dataset   = dataset.d
  embed_dim = 0 # ERROR: Value out of range
  schedule  = { epochs = 3, batch_size = -2 } # ERROR: Value out of range
  loss "nir" {}
}

train "m" {
  dataset = dataset.d
  matrix  = { embed_dim = [16, 0] } # ERROR: Value out of range
  loss "nir" {}
}
