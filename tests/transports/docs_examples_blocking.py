"""The Queue API docs' examples (/work/shared/QUEUE-API-DOCS.md), word for word, for the
blocking client: the docs' text without ``async`` and ``await``. Changed: the import line;
``api_key``/``base_url`` of the complete example (the emulator's); the manual-polling sleep
(2 s -> 0.05 s). A snippet that uses a ``client``, ``video_file`` or ``job`` from its
surroundings in the docs takes it as an argument.
"""
# ruff: noqa: F841
# fmt: off

import time

from decart_proto.transports.blocking import (
    DecartClient,
    DecartSDKError,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    models,
)

API_KEY = "your-api-key"  # set by the test to the emulator's
BASE_URL = None  # set by the test to the emulator's


def submit_a_job(client, video_file):
    job = client.queue.submit({
        "model": models.video("lucy-2.1"),
        "data": video_file,
        "prompt": "Transform into anime style",
    })

    print(f"Job ID: {job.job_id}")
    print(f"Status: {job.status}")  # "pending"
    return job


def check_job_status(client, job):
    status = client.queue.status(job.job_id)

    print(f"Status: {status.status}")  # "pending", "processing", "completed", or "failed"


def get_job_result(client, job):
    # First check status
    status = client.queue.status(job.job_id)

    if status.status == "completed":
        result = client.queue.result(job.job_id)

        if result.status == "completed":
            with open("output.mp4", "wb") as f:
                f.write(result.data)
        else:
            print(f"Error: {result.error}")


def submit_and_poll(client):
    with open("input.mp4", "rb") as video_file:
        result = client.queue.submit_and_poll({
            "model": models.video("lucy-2.1"),
            "data": video_file,
            "prompt": "Transform into anime style",
            "on_status_change": lambda job: print(f"Status: {job.status}"),
        })

    if result.status == "completed":
        with open("output.mp4", "wb") as f:
            f.write(result.data)
    else:
        print(f"Editing failed: {result.error}")


def edit_video():
    with DecartClient(api_key=API_KEY, base_url=BASE_URL) as client:
        print("Submitting video editing job...")

        with open("input.mp4", "rb") as video_file:
            result = client.queue.submit_and_poll({
                "model": models.video("lucy-2.1"),
                "data": video_file,
                "prompt": "Transform into anime style",
                "on_status_change": lambda job: print(f"  Status: {job.status}"),
            })

        if result.status == "completed":
            with open("output.mp4", "wb") as f:
                f.write(result.data)
            print("Video saved to output.mp4")
        else:
            print(f"Editing failed: {result.error}")


def complete_example():
    edit_video()


def manual_polling(client):
    # Submit job
    job = client.queue.submit({
        "model": models.video("lucy-2.1"),
        "prompt": "A serene lake at sunset",
    })

    print(f"Job submitted: {job.job_id}")

    # Manual polling loop
    while True:
        status = client.queue.status(job.job_id)
        print(f"Status: {status.status}")

        if status.status == "completed":
            result = client.queue.result(job.job_id)
            with open("output.mp4", "wb") as f:
                f.write(result.data)
            print("Video saved!")
            break
        if status.status == "failed":
            print("Generation failed")
            break

        # Wait before next poll
        time.sleep(0.05)


def manual_polling_with_data(client, video_file):
    # The same, with the input video the model requires (the one line added: "data").
    job = client.queue.submit({
        "model": models.video("lucy-2.1"),
        "data": video_file,
        "prompt": "A serene lake at sunset",
    })

    print(f"Job submitted: {job.job_id}")

    # Manual polling loop
    while True:
        status = client.queue.status(job.job_id)
        print(f"Status: {status.status}")

        if status.status == "completed":
            result = client.queue.result(job.job_id)
            with open("output.mp4", "wb") as f:
                f.write(result.data)
            print("Video saved!")
            break
        if status.status == "failed":
            print("Generation failed")
            break

        # Wait before next poll
        time.sleep(0.05)


def error_handling(client):
    try:
        result = client.queue.submit_and_poll({
            "model": models.video("lucy-2.1"),
            "prompt": "A beautiful sunset",
        })
    except QueueSubmitError as error:
        print(f"Failed to submit job: {error.message}")
    except QueueStatusError as error:
        print(f"Failed to check status: {error.message}")
    except QueueResultError as error:
        print(f"Failed to get result: {error.message}")
    except DecartSDKError as error:
        print(f"SDK error: {error.message}")


def error_handling_with_data(client, video_file):
    # The same, with the input video the model requires (the one line added: "data").
    try:
        result = client.queue.submit_and_poll({
            "model": models.video("lucy-2.1"),
            "data": video_file,
            "prompt": "A beautiful sunset",
        })
    except QueueSubmitError as error:
        print(f"Failed to submit job: {error.message}")
    except QueueStatusError as error:
        print(f"Failed to check status: {error.message}")
    except QueueResultError as error:
        print(f"Failed to get result: {error.message}")
    except DecartSDKError as error:
        print(f"SDK error: {error.message}")
