dataset "toy" {
  kind = "synthetic"
  nn   = 4
}

train "a" {
  dataset = dataset.missing
}
