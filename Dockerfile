# The Lambda image: AWS's Python 3.13 base image (Amazon Linux 2023, glibc 2.34; the pinned wheels
# need manylinux_2_28), pinned by tag and digest. Dependencies get their own layer (rebuilt only when
# layers/requirements.txt, the lock with every file's SHA-256, changes), then the library, then the
# handler. The tests lay out the same
# task folder from these lines (devtools/lambda_image.py), so keep to FROM/COPY/RUN/CMD forms it knows.
FROM public.ecr.aws/lambda/python:3.13.2025.12.15.13@sha256:995c3cd4acfc0681c21cf04fe9754560e30a5d9c5b011b8c405ad1927ca4fdb6

COPY layers/requirements.txt ${LAMBDA_TASK_ROOT}/requirements.txt
RUN pip install --no-cache-dir --only-binary=:all: --require-hashes --no-deps -r ${LAMBDA_TASK_ROOT}/requirements.txt \
        --target ${LAMBDA_TASK_ROOT} \
    && rm ${LAMBDA_TASK_ROOT}/requirements.txt

COPY layers/avi2mp4 ${LAMBDA_TASK_ROOT}/avi2mp4
COPY handler ${LAMBDA_TASK_ROOT}/handler
# Lambda's file system is read-only: without bytecode in the image, every cold start would compile
# the code again (and fail to cache it). unchecked-hash: the image never changes under the .pyc.
RUN python3 -m compileall -q --invalidation-mode unchecked-hash ${LAMBDA_TASK_ROOT}/avi2mp4 ${LAMBDA_TASK_ROOT}/handler

# handler is a package, so the image imports it exactly as the tests and `avi2mp4 invoke` do.
CMD ["handler.app.lambda_handler"]
