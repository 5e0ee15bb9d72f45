# metrics = ["recal@1"] (#12)
dataset "d" {
  kind = "emoji"
  root = "data/emoji"
  base = 36
  crop = 32
}

train "t" {
  dataset        = dataset.d
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 32
  loss "oproxy" {}
  schedule = { epochs = 2, batch_size = 60, lr = 1e-3, samples_per_class = 2 }
}

embed "e" {
  models  = train.t
  dataset = dataset.d
}

evaluate "v" {
  from    = embed.e
  metrics = ["recal@1", "nmi"] # ERROR: Unknown metric | Did you mean "e_recall@1"?
}

report "r" {
  from = evaluate.v
}
