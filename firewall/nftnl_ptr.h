// One owning alias per libnftnl/libmnl type (STYLE.md rule 8).
#pragma once

#include <memory>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "common/free_with.h"

namespace rampart::fw {

template <auto Free>
using NftnlDeleter = FreeWith<Free>;

using TablePtr = std::unique_ptr<nftnl_table, NftnlDeleter<nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, NftnlDeleter<nftnl_chain_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, NftnlDeleter<nftnl_rule_free>>;
using ExprPtr = std::unique_ptr<nftnl_expr, NftnlDeleter<nftnl_expr_free>>;
using SetPtr = std::unique_ptr<nftnl_set, NftnlDeleter<nftnl_set_free>>;
using SetElemPtr = std::unique_ptr<nftnl_set_elem, NftnlDeleter<nftnl_set_elem_free>>;
using BatchPtr = std::unique_ptr<nftnl_batch, NftnlDeleter<nftnl_batch_free>>;
using MnlSocketPtr = std::unique_ptr<mnl_socket, NftnlDeleter<mnl_socket_close>>;

}  // namespace rampart::fw
