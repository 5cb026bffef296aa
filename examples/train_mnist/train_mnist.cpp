// Trains a network on MNIST with the installed mnistlab library and saves
// its weights as a PyTorch state_dict (safetensors, keys "0.weight", ...).
//
//   train_mnist [DATA_DIR [EPOCHS [OUT [MODEL]]]]
//
// DATA_DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (raw or .gz); MODEL is
// a preset ("baseline", "fast", ...) or the path of a model file. Under
// `mpirun -np N` the N processes train the one model data-parallel (rank 0
// prints and saves).
#include <cstdio>
#include <exception>
#include <string>

#include <mnistlab/data.h>
#include <mnistlab/distributed.h>
#include <mnistlab/model_file.h>
#include <mnistlab/safetensors.h>
#include <mnistlab/trainer.h>

int main(int argc, char** argv) {
  const std::string data_dir = argc > 1 ? argv[1] : "data/mnist";
  const std::string epochs = argc > 2 ? argv[2] : "3";
  const std::string out = argc > 3 ? argv[3] : "train_mnist.safetensors";
  const std::string model_name = argc > 4 ? argv[4] : "baseline";
  try {
    const mnistlab::ModelSource source = mnistlab::resolve_model(model_name);
    mnistlab::Model model = mnistlab::parse_model(source.text, source.origin);
    model.build(/*seed=*/0);
    const mnistlab::Dataset train = mnistlab::load_split(data_dir, /*train=*/true);
    const mnistlab::Dataset test = mnistlab::load_split(data_dir, /*train=*/false);

    mnistlab::TrainOptions options;  // Adam, lr 1e-3, batch 64: the course's recipe
    options.epochs = std::stoi(epochs);
    const mnistlab::Communicator& ranks = mnistlab::world();  // this process alone, or mpirun's
    options.comm = &ranks;
    mnistlab::fit(model, train, test, options, [&](const mnistlab::EpochMetrics& m) {  // {loss, accuracy} each
      if (ranks.rank() != 0) return;
      std::printf("epoch %d: train_loss %.4f train_acc %.4f test_loss %.4f test_acc %.4f (%.1f s)\n", m.epoch,
                  m.train[0], m.train[1], m.eval[0], m.eval[1], m.seconds);
      std::fflush(stdout);
    });
    if (ranks.rank() != 0) return 0;
    mnistlab::save_state_dict(model, out);
    std::printf("saved %s\n", out.c_str());
  } catch (const std::exception& e) {  // mnistlab::Error names the file and what is wrong with it
    std::fprintf(stderr, "train_mnist: %s\nusage: train_mnist [DATA_DIR [EPOCHS [OUT [MODEL]]]]\n", e.what());
    return 1;
  }
}
