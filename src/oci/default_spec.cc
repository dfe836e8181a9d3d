#include "oci/spec.h"
