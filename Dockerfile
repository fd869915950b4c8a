# The Lambda image: AWS's Python base image, dependencies in their own layer (rebuilt only when
# layers/requirements.txt changes), then the library, then the handler.
# Python 3.11: the version the tests and the image-contents test run on.
FROM public.ecr.aws/lambda/python:3.11

COPY layers/requirements.txt ${LAMBDA_TASK_ROOT}/requirements.txt
RUN pip install --no-cache-dir --only-binary=:all: -r ${LAMBDA_TASK_ROOT}/requirements.txt \
        --target ${LAMBDA_TASK_ROOT} \
    && rm ${LAMBDA_TASK_ROOT}/requirements.txt

COPY layers/avi2mp4 ${LAMBDA_TASK_ROOT}/avi2mp4
COPY handler ${LAMBDA_TASK_ROOT}/handler

# handler is a package, so the image imports it exactly as the tests and `avi2mp4 invoke` do.
CMD ["handler.app.lambda_handler"]
