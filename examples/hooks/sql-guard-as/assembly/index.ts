// A minimal meshgate custom hook in AssemblyScript (hook ABI v1, docs/hooks.md).
// pre_call: a call whose input mentions "DROP TABLE" (in any argument) is refused;
// every other call goes on unchanged (a zero-length answer).
// Built with `--runtime stub`: each instance serves one call, so nothing is freed.

const DENY: string =
  '{"allow":false,"message":"sql-guard: destructive SQL (DROP TABLE) is not allowed"}';

export function meshgate_hook_abi_version(): i32 {
  return 1;
}

export function alloc(size: i32): usize {
  return heap.alloc(<usize>size);
}

export function pre_call(ptr: usize, len: i32): i64 {
  const input = String.UTF8.decodeUnsafe(ptr, <usize>len);
  if (!input.includes("DROP TABLE")) {
    return 0;
  }
  const out = String.UTF8.encode(DENY);
  return (<i64>changetype<usize>(out) << 32) | <i64>out.byteLength;
}
