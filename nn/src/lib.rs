//! Neural-network modules, losses, optimisers, data sets (in progress).
