/* Per-layer timing hooks for the generated model (TINYFLOW_HOOKS_HEADER). They cost a
 * load and a branch per layer unless `tf-layers` switches profiling on. */
#ifndef TF_HOOKS_H
#define TF_HOOKS_H

extern volatile int tf_profiling;
void tf_layer_begin(int layer);
void tf_layer_end(int layer);

#define TINYFLOW_LAYER_BEGIN(layer) do { if (tf_profiling) { tf_layer_begin(layer); } } while (0)
#define TINYFLOW_LAYER_END(layer) do { if (tf_profiling) { tf_layer_end(layer); } } while (0)

#endif /* TF_HOOKS_H */
