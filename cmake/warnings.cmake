# Compiler flags shared by every loom target: warnings, sanitizers, CPU tuning.
# Call loom_target_defaults(<target>) on each target loom defines.

set(LOOM_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

function(loom_target_defaults target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${LOOM_WERROR}>>:-Werror>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${LOOM_NATIVE}>>:-march=native>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
  if(LOOM_SANITIZE)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${LOOM_SANITIZE_FLAGS}>)
    target_link_options(${target} PRIVATE ${LOOM_SANITIZE_FLAGS})
  endif()
endfunction()
