/* lagrad: the umbrella header. Include this one. */
#ifndef LAGRAD_H
#define LAGRAD_H

#include "core.h"
#include "tensor.h"
#include "graph.h"
#include "backend.h"
#include "ops.h"
#include "gradcheck.h"
#include "nn.h"
#include "layers.h"
#include "checkpoint.h"
#include "data.h"
#include "linalg.h"
#include "conv.h"
#include "curvature.h"
#include "train.h"
#include "text.h"
#include "rnn.h"
#include "gpt.h"
#include "sample.h"

#endif
